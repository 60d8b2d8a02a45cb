#!/usr/bin/env bash
# Makes the examples' own encrypted inputs (examples/inputs.sh) for the C
# examples; the shell examples make them themselves when needed.
. "$(dirname "$0")/lib.sh"
example_inputs
say "inputs in $EXAMPLE_SERVED, keys and expected answers in $EXAMPLE_DIR"
