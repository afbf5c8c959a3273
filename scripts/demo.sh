#!/usr/bin/env bash
# The README's main command: set up, build, then run the CPU R1-Zero demo (pretrain a tiny base,
# evaluate, GRPO, evaluate again), recorded in runs/r1.db. Extra arguments go to `r1 demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${R1_BUILD_DIR:-build}/cli/r1" demo "$@"
