#!/usr/bin/env bash
# Installs the Debian packages r1forge builds against, if any is missing, then configures and
# builds into build/ (or $R1_BUILD_DIR). Safe to run any number of times: packages already
# present are not touched, and an existing build directory is reused (ccache makes rebuilds cheap).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev libopenblas0-openmp
  libboost-dev libsqlite3-dev libcli11-dev doctest-dev nlohmann-json3-dev libtomlplusplus-dev
  libpcre2-dev libutf8proc-dev libseccomp-dev libgmp-dev
  python3 g++
  chromium      # the browser test of `r1 serve` (headless, driven by playwright-core)
  python3-torch # /usr/bin/torchrun, the launcher the data-parallel tests start ranks with
)
# Node.js and npm run the browser test; a machine that has them from elsewhere keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's npm packages, exactly as locked (tests/serve/package-lock.json); playwright-core
# drives Debian's chromium and downloads no browser of its own.
if [ ! -d tests/serve/node_modules/playwright-core ] || [ tests/serve/package-lock.json -nt tests/serve/node_modules ]; then
  (cd tests/serve && npm ci --no-audit --no-fund --loglevel=error)
  touch tests/serve/node_modules
fi

build_dir="${R1_BUILD_DIR:-build}"
build_type="${R1_BUILD_TYPE:-Release}"
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${R1_CMAKE_ARGS:-}
fi
# Two cores, one of them needed by the linker at times: ninja's default (cores + 2) thrashes memory
# on torch translation units, so cap parallel jobs at the core count.
cmake --build "$build_dir" -j "$(nproc)"
