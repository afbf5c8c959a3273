#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60).
# Usage: fuzz/run.sh [SECONDS]. Needs clang and libclang-rt (Debian: clang, libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
out=build-fuzz
mkdir -p "$out/corpus_math" "$out/corpus_st" "$out/corpus_frames"
CXX="${CXX:-clang++}"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -I/usr/include)
"$CXX" "${flags[@]}" fuzz/fuzz_math_verifier.cpp verifiers/math/*.cpp -lgmpxx -lgmp -o "$out/fuzz_math_verifier"
"$CXX" "${flags[@]}" fuzz/fuzz_safetensors_header.cpp policy/safetensors_format.cpp text/json_value.cpp -o "$out/fuzz_safetensors_header"
"$CXX" "${flags[@]}" fuzz/fuzz_rollout_frames.cpp rollout/wire.cpp rollout/handshake.cpp text/json_value.cpp -o "$out/fuzz_rollout_frames"
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
# Seed: a hello then a heartbeat as a worker sends them (fed 7 bytes at a time, limit 64 + 255 * 16).
python3 - "$out/corpus_frames/seed" <<'PY'
import struct, sys
def crc32c(b, crc=0):
    crc ^= 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF
def frame(t, seq, payload):
    head = b"R1RW" + bytes([t, 0, 0, 0]) + struct.pack("<QI", seq, len(payload))
    return head + struct.pack("<I", crc32c(payload, crc32c(head))) + payload
hello = b'{"protocol":1,"model_hash":"m","tokenizer_hash":"t","token":"token","slots":4,"threads":1,"device":"cpu","name":"w"}'
open(sys.argv[1], "wb").write(bytes([6, 255]) + frame(1, 0, hello) + frame(4, 1, b""))
PY
"$out/fuzz_math_verifier" -max_total_time="$secs" -max_len=4096 -timeout=5 "$out/corpus_math"
"$out/fuzz_safetensors_header" -max_total_time="$secs" -max_len=4096 "$out/corpus_st"
"$out/fuzz_rollout_frames" -max_total_time="$secs" -max_len=8192 "$out/corpus_frames"
