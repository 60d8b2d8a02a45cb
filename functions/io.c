/* Input/output helpers shared by the built-ins; see builtins.h. */
#include "functions/builtins.h"

#include "core/error.h"

#include <stdio.h>

struct steep_reader *steep_fn_open_input(struct steep_fn_io *io, const char *name)
{
    if (!io || !io->open_input) {
        steep_error_set("Invalid input file identifier.");
        return NULL;
    }
    return io->open_input(io->ctx, name);
}

struct steep_writer *steep_fn_create_output(struct steep_fn_io *io, const char *name)
{
    if (!io || !io->create_output) {
        steep_error_set("Invalid output file identifier");
        return NULL;
    }
    return io->create_output(io->ctx, name);
}

int steep_fn_close_output(struct steep_writer *w, int rc)
{
    if (!w)
        return rc;
    if (rc < 0) {
        char saved[STEEP_ERROR_MAX];
        snprintf(saved, sizeof(saved), "%s", steep_error_get());
        steep_writer_close(w, NULL);
        return steep_error_set("%s", saved);
    }
    return steep_writer_close(w, NULL);
}
