#!/usr/bin/env bash
# Header-only syntax check of every LibTorch translation unit against LibTorch 2.x (Debian
# trixie's libtorch-dev 2.6), for the GPU machines' LibTorch: no GPU and no 2.x libraries needed.
# Downloads the one .deb through a private apt list (the system's sources are not touched), then
# compiles each torch TU of build/compile_commands.json with -fsyntax-only and 2.6's headers first:
#   pass "cpu":  as this build configured it (no CUDA);
#   pass "cuda": the TUs with CUDA or NCCL paths (#if R1_WITH_CUDA / R1_WITH_NCCL) again, with those
#                on, against this machine's CUDA headers and nccl.h (CUDA_HOME, default /usr/local/cuda).
# Too slow for CI (minutes); run it before changing code the GPU machines build.
# Usage: scripts/check-torch2.sh [BUILD_DIR]   (a configured build: scripts/setup.sh makes one)
#        R1_CHECK_ONLY=REGEX scripts/check-torch2.sh   only the translation units whose path matches
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
cuda=${CUDA_HOME:-/usr/local/cuda}
[ -f "$cuda/include/cuda_runtime_api.h" ] && [ -f "$cuda/include/nccl.h" ] || { echo "check-torch2: no CUDA headers and nccl.h under $cuda (set CUDA_HOME)" >&2; exit 2; }
python3 - "$build/compile_commands.json" "$inc" "$cuda/include" <<'PY'
import json, os, re, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
commands, inc, cuda_inc = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def syntax_only(args, extra):
    out, skip = [args[0], "-I" + inc, "-I" + inc + "/torch/csrc/api/include"] + extra + ["-fsyntax-only", "-w"], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-include"):
            skip = True
            continue
        if a in ("-c", "-Winvalid-pch") or a.startswith("-W"):
            continue
        out.append(a)
    return out
def has_gpu_paths(path):
    return re.search(r"R1_WITH_(CUDA|NCCL)", open(path, errors="replace").read()) is not None
jobs = []
for e in commands:
    args = shlex.split(e["command"])
    if not any("torch/csrc/api/include" in a for a in args):
        continue
    if os.environ.get("R1_CHECK_ONLY") and not re.search(os.environ["R1_CHECK_ONLY"], e["file"]):
        continue
    jobs.append(("cpu ", e["file"], syntax_only(args, []), e["directory"]))
    if has_gpu_paths(e["file"]):
        # Debian's LibTorch is built without CUDA, so it lacks the one header a CUDA build generates
        # (c10/cuda/impl/cuda_cmake_macros.h, export macros that only matter on Windows): skip it.
        gpu = ["-DR1_WITH_CUDA=1", "-DR1_WITH_NCCL=1", "-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE", "-I" + cuda_inc]
        jobs.append(("cuda", e["file"], syntax_only(args, gpu), e["directory"]))
def check(job):
    kind, f, cmd, cwd = job
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return kind, f, r.returncode, r.stderr
failed, counts = 0, {}
with ThreadPoolExecutor(2) as pool:
    for kind, f, code, err in pool.map(check, jobs):
        print(("ok    " if code == 0 else "FAIL  ") + kind + "  " + os.path.relpath(f), flush=True)
        counts.setdefault(kind, [0, 0])[0 if code == 0 else 1] += 1
        if code:
            failed += 1
            print(err[-4000:])
for kind, (ok, bad) in sorted(counts.items()):
    print(f"{kind.strip()}: {ok}/{ok + bad} translation units compile against LibTorch 2.x headers")
sys.exit(1 if failed else 0)
PY
