/*
 * Fuzzes what management and the scheduler read back: task records (any
 * bytes as the stored JSON) through every state transition and guard, the
 * scheduler's view of the same record, and external IDs. Nothing may crash
 * or leak, whatever the record holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ids.h"
#include "records.h"
#include "task_record.h"
#include "task_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t op = data[0];
    data++, size--;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char uuid[STEEP_UUID_TEXT], task_uuid[STEEP_TASK_UUID_TEXT], key[STEEP_ID_TEXT];
    const char *prefixes[] = {"task", "input", "output", "function"};
    steep_id_parse(text, prefixes[op % 4], uuid);
    steep_task_record_uuid(text, task_uuid);
    steep_id_user_key(text, key);

    struct steep_task task;
    if (steep_task_decode(data, size, &task) == 0) {
        steep_task_all_data_assigned(&task);
        steep_task_everyone_approved(&task);
        steep_task_can_stage(&task);
        json_t *record = steep_task_to_json(&task);
        steep_record_task_status(record);
        steep_task_record_status(record);
        uint8_t cmac[16];
        steep_record_file_cmac(record, cmac);
        json_decref(record);
        json_t *file = json_pack("{s:s}", "uuid", "00000000-0000-4000-8000-000000000000");
        struct steep_task_assignment item = {"a", file, (op & 1) != 0};
        struct steep_task_assign assign = {&item, 1};
        int previous = 0;
        switch ((op >> 1) % 4) {
        case 0:
            steep_task_assign(&task, &assign);
            break;
        case 1:
            steep_task_approve(&task, "u");
            break;
        case 2:
            steep_task_stage(&task, NULL);
            break;
        default:
            steep_task_cancel(&task, &previous);
            break;
        }
        char *encoded = steep_task_encode(&task);
        free(encoded);
        json_decref(file);
        steep_task_clear(&task);
    }
    free(text);
    return 0;
}
