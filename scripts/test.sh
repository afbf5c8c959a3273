#!/usr/bin/env bash
# The README's test command: set up, build, then run every test with CTest.
# Tests that read ../shared skip themselves with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${R1_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
