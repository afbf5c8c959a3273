#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60).
# Usage: fuzz/run.sh [SECONDS]. Needs clang and libclang-rt (Debian: clang, libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
out=build-fuzz
mkdir -p "$out/corpus_math" "$out/corpus_st"
CXX="${CXX:-clang++}"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -I/usr/include)
"$CXX" "${flags[@]}" fuzz/fuzz_math_verifier.cpp verifiers/math/*.cpp -lgmpxx -lgmp -o "$out/fuzz_math_verifier"
"$CXX" "${flags[@]}" fuzz/fuzz_safetensors_header.cpp policy/safetensors_format.cpp text/json_value.cpp -o "$out/fuzz_safetensors_header"
# Seeds: a few real answers and a valid safetensors header.
printf '%s' '\boxed{\frac{1}{2}}' > "$out/corpus_math/seed1"
printf '%s' '<answer>[1,2) \cup (3, \infty)</answer>' > "$out/corpus_math/seed2"
printf '%s' '$\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}$' > "$out/corpus_math/seed3"
printf '%s' '\frac{\sqrt{2}}{2}(x+i)^3\frac{1}{1+\sqrt{12}}\sqrt{-8}y^{-2}' > "$out/corpus_math/seed4"
python3 - "$out/corpus_st/seed" <<'PY'
import json, struct, sys
h = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * 8)
PY
"$out/fuzz_math_verifier" -max_total_time="$secs" -max_len=4096 -timeout=5 "$out/corpus_math"
"$out/fuzz_safetensors_header" -max_total_time="$secs" -max_len=4096 "$out/corpus_st"
