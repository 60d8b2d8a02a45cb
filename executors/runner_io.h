/*
 * The function's view of its task files inside the runner: struct
 * steep_fn_io over the descriptors named in the request. Inputs in
 * teaclave-file-128 are opened with their staged key and their cmac is
 * compared with the expected one (Teaclave's "Corrupted input file");
 * every finished output reports its cmac to the node as an OUTPUT frame.
 */
#ifndef STEEP_EXECUTORS_RUNNER_IO_H
#define STEEP_EXECUTORS_RUNNER_IO_H

#include <stdbool.h>

#include "functions/function.h"
#include "runner_protocol.h"

struct steep_runner_io {
    struct steep_fn_io io;
    const struct steep_runner_request *request;
    int channel;
    bool created[1024]; /* per output: create_output() already called */
};

void steep_runner_io_init(struct steep_runner_io *runner_io,
                          const struct steep_runner_request *request, int channel);

#endif
