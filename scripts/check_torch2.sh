#!/usr/bin/env bash
# Header-only syntax check of every LibTorch translation unit against LibTorch 2.x (Debian
# trixie's libtorch-dev 2.6), for the GPU machines' LibTorch: no GPU and no 2.x libraries needed.
# Downloads the one .deb through a private apt list (the system's sources are not touched), then
# compiles each torch TU of build/compile_commands.json with -fsyntax-only and 2.6's headers first.
# Usage: scripts/check_torch2.sh [BUILD_DIR]   (a configured build: scripts/setup.sh makes one)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=${R1_TORCH2_DIR:-/tmp/r1-libtorch2}
if [ ! -f "$work/root/usr/include/torch/csrc/api/include/torch/torch.h" ]; then
  mkdir -p "$work/lists/partial" "$work/debs"
  echo "deb http://deb.debian.org/debian trixie main" > "$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists"
            -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download libtorch-dev 2>/dev/null)
  dpkg -x "$work"/debs/libtorch-dev_*.deb "$work/root"
fi
inc="$work/root/usr/include"
python3 - "$build/compile_commands.json" "$inc" <<'PY'
import json, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
commands, inc = json.load(open(sys.argv[1])), sys.argv[2]
jobs = []
for e in commands:
    args = shlex.split(e["command"])
    if not any("torch/csrc/api/include" in a for a in args):
        continue
    out, skip = [args[0], "-I" + inc, "-I" + inc + "/torch/csrc/api/include", "-fsyntax-only", "-w"], False
    for i, a in enumerate(args[1:], 1):
        if skip:
            skip = False
            continue
        if a in ("-o", "-include"):
            skip = True
            continue
        if a in ("-c", "-Winvalid-pch") or a.startswith("-W"):
            continue
        out.append(a)
    jobs.append((e["file"], out, e["directory"]))
def check(job):
    f, cmd, cwd = job
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return f, r.returncode, r.stderr
failed = 0
with ThreadPoolExecutor(2) as pool:
    for f, code, err in pool.map(check, jobs):
        print(("ok    " if code == 0 else "FAIL  ") + f, flush=True)
        if code:
            failed += 1
            print(err[-4000:])
print(f"{len(jobs) - failed}/{len(jobs)} torch translation units compile against LibTorch 2.x headers")
sys.exit(1 if failed else 0)
PY
