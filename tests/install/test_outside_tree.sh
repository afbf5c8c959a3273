#!/usr/bin/env bash
# r1 from folders unrelated to the checkout, then installed: recipe-relative paths, the demo's own
# assets, `cmake --install`, a plugin built out of tree with find_package(r1forge), bash
# completion, and the .deb (built and inspected, not installed).
# Usage: test_outside_tree.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SOURCE=$(cd "$2" && pwd)
R1="$BUILD/cli/r1"
T=$(mktemp -d /tmp/r1-outside.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$1" <<<"$2" || fail "expected '$1' in: $2"; }
step() { echo "== $*"; }
query() { "$R1" sql "$2" --db "$1" | tail -n +2 | sed 's/^ *//; s/ *$//'; }  # one column, without its header

# A user's experiment folder, launched from somewhere else.
mkdir -p "$T/exp/models" "$T/exp/tok" "$T/exp/data" "$T/elsewhere"
cp "$SOURCE/experiments/recipes/models/smoke-v3.json" "$T/exp/models/"
cp "$SOURCE/experiments/recipes/tokenizers/demo-bpe/tokenizer.json" "$T/exp/tok/"
cat > "$T/exp/tok/tokenizer_config.json" <<'JSON'
{"eos_token": "<|endoftext|>", "add_bos_token": false, "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% if m['role'] == 'assistant' %}<|endoftext|>{% endif %}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"}
JSON
for i in $(seq 0 59); do
  echo "{\"id\": \"t$i\", \"question\": \"What is $i + 1?\", \"answer\": \"$((i + 1))\"}" >> "$T/exp/data/train.jsonl"
  echo "{\"text\": \"User: $i + 1? Assistant: <think> add one </think> <answer>$((i + 1))</answer>\"}" >> "$T/exp/data/corpus.jsonl"
  echo "{\"messages\": [{\"role\": \"user\", \"content\": \"$i + 2?\"}, {\"role\": \"assistant\", \"content\": \"<answer>$((i + 2))</answer>\"}]}" >> "$T/exp/data/chats.jsonl"
done
cat > "$T/exp/base.toml" <<'TOML'
[run]
seed = 3
threads = 1
log_every = 1
[model]
init = "models/smoke-v3.json"
tokenizer = "tok"
TOML
cat > "$T/exp/grpo.toml" <<'TOML'
include = ["base.toml"]
[run]
steps = 1
eval_every = 0
[data]
dataset = "jsonl"
path = "data/train.jsonl"
[rollout]
group_size = 2
max_new_tokens = 8
[rl]
prompts_per_step = 2
TOML
cat > "$T/exp/lm.toml" <<'TOML'
include = ["base.toml"]
[run]
steps = 2
[lm]
corpus = ["data/corpus.jsonl"]
seq_len = 32
batch_size = 4
TOML
cd "$T/elsewhere"

step "config show resolves every path against the recipe that wrote it"
out=$("$R1" config show ../exp/grpo.toml)
expect_in "init = \"$T/exp/models/smoke-v3.json\"" "$out"
expect_in "tokenizer = \"$T/exp/tok\"" "$out"
expect_in "path = \"$T/exp/data/train.jsonl\"" "$out"
out=$("$R1" config show "$SOURCE/experiments/recipes/smoke.toml")
expect_in "init = \"$SOURCE/experiments/recipes/models/smoke-v3.json\"" "$out"

step "train, pretrain, sft from another folder"
"$R1" train ../exp/grpo.toml --db r1.db -q >/dev/null
"$R1" train "$SOURCE/experiments/recipes/smoke.toml" --set run.steps=1 --set run.eval_every=0 --set run.threads=1 --db r1.db -q >/dev/null
"$R1" pretrain ../exp/lm.toml --name base --db r1.db -q >/dev/null
base=$(query r1.db "SELECT path FROM checkpoints WHERE run_id = 3 ORDER BY step DESC LIMIT 1")
[[ -d "$base" ]] || fail "pretrain checkpoint $base missing"
"$R1" sft ../exp/lm.toml --name sft --set "model.path=$base" --set model.init= --set 'lm.corpus=["../exp/data/chats.jsonl"]' --db r1.db -q >/dev/null
runs=$(query r1.db "SELECT group_concat(kind || ':' || status, ' ') FROM runs")
[[ "$runs" == "train:finished train:finished pretrain:finished sft:finished" ]] || fail "runs: $runs"

step "a missing input names the recipe line, the key, the path as written and the path tried"
sed 's#data/train.jsonl#data/nope.jsonl#' ../exp/grpo.toml > ../exp/bad.toml
set +e
err=$("$R1" train ../exp/bad.toml --db r1.db 2>&1 >/dev/null); code=$?
set -e
[[ $code == 2 ]] || fail "exit $code for a missing data file"
expect_in "../exp/bad.toml:7: data.path: \"data/nope.jsonl\" not found (tried $T/exp/data/nope.jsonl)" "$err"

step "the demo from another folder writes only under --dir and --db"
mkdir "$T/demo-cwd" && cd "$T/demo-cwd"
"$R1" demo --pretrain-steps 2 --grpo-steps 1 --dir "$T/demo/d" --db "$T/demo/r1.db" -q >/dev/null
[[ -z "$(ls -A "$T/demo-cwd")" ]] || fail "the demo wrote into its working folder: $(ls -A "$T/demo-cwd")"
[[ "$(query "$T/demo/r1.db" "SELECT count(*) FROM runs WHERE status = 'finished'")" == 2 ]] || fail "demo runs not finished"
cd "$T/elsewhere"

step "cmake --install: r1 finds its worker and its assets relative to itself"
P="$T/prefix"
cmake --install "$BUILD" --prefix "$P" >/dev/null
[[ -x "$P/bin/r1-sandbox-worker" ]] || fail "r1-sandbox-worker not installed beside r1"
out=$("$P/bin/r1" demo --help)
expect_in "$P/share/r1forge/recipes" "$out"
printf 'print(6 * 7)\n' > six.py
out=$("$P/bin/r1" --json sandbox run --lang python six.py)
expect_in '"verdict":"AC"' "$(tr -d ' ' <<<"$out")"
expect_in '42' "$out"
"$P/bin/r1" train ../exp/grpo.toml --db installed.db -q >/dev/null
out=$("$P/bin/r1" config show "$P/share/r1forge/recipes/smoke.toml")
expect_in "init = \"$P/share/r1forge/recipes/models/smoke-v3.json\"" "$out"

step "a reward plugin built out of tree with find_package(r1forge) loads"
mkdir -p "$T/plugin"
sed 's#"rewards/r1_reward_plugin.h"#<r1_reward_plugin.h>#' "$SOURCE/rewards/examples/prime_reward.cpp" > "$T/plugin/prime.cpp"
cat > "$T/plugin/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(prime_plugin CXX)
find_package(r1forge REQUIRED)
add_library(prime SHARED prime.cpp)
target_link_libraries(prime PRIVATE r1forge::reward_plugin)
CMAKE
cmake -S "$T/plugin" -B "$T/plugin/build" -G Ninja -DCMAKE_PREFIX_PATH="$P" >/dev/null
cmake --build "$T/plugin/build" >/dev/null
printf '[[rewards]]\nname = "prime"\nplugin = "build/libprime.so"\n' > "$T/plugin/reward.toml"
printf '%s\n' '{"task": {"id": "a", "prompt": "p", "answer": "7"}, "completion": "<answer>7</answer>"}' \
              '{"task": {"id": "b", "prompt": "p", "answer": "8"}, "completion": "<answer>8</answer>"}' > in.jsonl
out=$("$P/bin/r1" reward score --recipe "$T/plugin/reward.toml" --input in.jsonl)
[[ "$(sed -n 1p <<<"$out" | tr -d ' ')" == *'"total":1.0'* && "$(sed -n 2p <<<"$out" | tr -d ' ')" == *'"total":0.0'* ]] ||
  fail "plugin scores: $out"

step "bash completion, generated from the CLI definition, is installed and completes"
comp="$P/share/bash-completion/completions/r1"
[[ -f "$comp" ]] || fail "no completion file"
out=$(bash -c "source '$comp'; COMP_WORDS=(r1 con); COMP_CWORD=1; _r1; echo \"\${COMPREPLY[*]}\"; COMP_WORDS=(r1 demo --pre); COMP_CWORD=2; _r1; echo \"\${COMPREPLY[*]}\"")
expect_in "config" "$out"
expect_in "--pretrain-steps" "$out"

step "cpack -G DEB: a .deb with the Debian runtime dependencies and every installed file"
(cd "$T" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/deb" >/dev/null)
deb=$(ls "$T"/deb/r1forge_*.deb)
info=$(dpkg-deb -I "$deb")
for dep in libtorch libopenblas0-openmp libsqlite3-0 libseccomp2 libgmp10 libpcre2-8-0; do expect_in "$dep" "$(grep '^ Depends:' <<<"$info")"; done
files=$(dpkg-deb -c "$deb")
for f in ./usr/bin/r1 ./usr/bin/r1-sandbox-worker ./usr/share/r1forge/recipes/demo-base.toml ./usr/share/r1forge/recipes/models/demo-v3.json \
         ./usr/share/r1forge/recipes/tokenizers/demo-bpe/tokenizer.json ./usr/include/r1forge/r1_reward_plugin.h \
         r1forge/r1forgeConfig.cmake ./usr/share/bash-completion/completions/r1; do
  expect_in "$f" "$files"
done
echo "all outside-tree and install checks passed"
