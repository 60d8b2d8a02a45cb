/*
 * libFuzzer target for the config path: the TOML parser on arbitrary bytes,
 * then Teaclave's validation and the typed getters on whatever parsed.
 * Paths in the document resolve against a directory that does not exist;
 * inputs naming device or proc files are skipped so the target never
 * blocks reading them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/config.h"
#include "core/toml.h"

static int mentions(const uint8_t *data, size_t size, const char *needle)
{
    return memmem(data, size, needle, strlen(needle)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steep_toml_value *root = NULL;
    if (steep_toml_parse("fuzz.toml", data, size, &root) == 0) {
        steep_toml_find(root, "internal_endpoints.storage.listen_address");
        steep_toml_free(root);
    }
    if (mentions(data, size, "/dev") || mentions(data, size, "/proc") ||
        mentions(data, size, "/sys"))
        return 0;
    struct steep_config *cfg = NULL;
    if (steep_config_load_buffer("/nonexistent-steep-fuzz/steep.toml", data, size, &cfg) == 0) {
        const char *const *items;
        steep_config_get_int(cfg, "execution.slots", 2);
        steep_config_get_string(cfg, "tee.backend", "sim");
        steep_config_get_bool(cfg, "steep.debug", false);
        steep_config_get_string_array(cfg, "access_control.policy_dirs", &items);
        steep_config_get_path(cfg, "steep.data_dir", "data");
        steep_config_check(cfg);
        steep_config_free(cfg);
    }
    return 0;
}
