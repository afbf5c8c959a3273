#!/usr/bin/env bash
# The side-by-side of experiments/recipes/algos/*.toml on the demo task: each algorithm from the
# same base checkpoint, with the same data, budget and seeds, recorded in one store; then a table
# of held-out pass@1 at 25/50/75/100% of the budget, completions per second and the step time.
# Usage: scripts/compare_algos.sh DEMO_DIR [STEPS] [SEEDS...]
#   DEMO_DIR: what `r1 demo --dir D --seed S` wrote (D-sS: train.jsonl, heldout.jsonl, tokenizer/,
#   the base checkpoint). Environment: R1 (default build/cli/r1), R1_DB (default runs/algos.db),
#   ALGOS (default: every recipe in experiments/recipes/algos), EVAL_LIMIT (100), EVAL_K (8),
#   SETS (space-separated key=value overrides for every run, e.g. "rl.n_minibatches=4").
set -euo pipefail
cd "$(dirname "$0")/.."
demo=$(cd "$1" && pwd)
steps=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2)
r1=${R1:-build/cli/r1}
db=${R1_DB:-runs/algos.db}
algos=${ALGOS:-$(ls experiments/recipes/algos/*.toml | xargs -n1 basename | sed 's/\.toml$//' | tr '\n' ' ')}
# The base checkpoint with the most steps (an interrupted pretraining may have left a shorter one).
base=$(ls -d "$demo"/demo-base-*/step-* | awk -F/ '{print $NF, $0}' | sort | tail -1 | cut -d' ' -f2)
[ -d "$base" ] || { echo "no base checkpoint under $demo (run r1 demo --dir first)" >&2; exit 2; }
every=$(( steps / 4 > 0 ? steps / 4 : 1 ))
extra=()
for kv in ${SETS:-}; do extra+=(--set "$kv"); done
for algo in $algos; do
  for seed in "${seeds[@]}"; do
    echo "== $algo seed $seed"
    "$r1" train "experiments/recipes/algos/$algo.toml" --db "$db" -q \
      --set "model.path=$base" --set "model.tokenizer=$demo/tokenizer" --set "data.path=$demo/train.jsonl" \
      --set "eval.path=$demo/heldout.jsonl" --set "run.steps=$steps" --set "run.eval_every=$every" --set "run.seed=$seed" \
      --set "run.name=algo-$algo-s$seed" --set "run.out_dir=runs/algos" --set "run.checkpoint_every=0" \
      --set "eval.limit=${EVAL_LIMIT:-100}" --set "eval.k=${EVAL_K:-8}" "${extra[@]}" >/dev/null
  done
done
# One row per algorithm: pass@1 averaged over seeds at each quarter of the budget; completions
# sampled per second of step time and seconds per step, over every step of every seed.
"$r1" sql "
WITH e AS (SELECT substr(r.name, 6, length(r.name) - 8) AS algo, e.step AS step, e.value AS v
           FROM evals e JOIN runs r ON r.id = e.run_id WHERE e.metric = 'pass@1' AND r.name LIKE 'algo-%'),
     t AS (SELECT substr(r.name, 6, length(r.name) - 8) AS algo,
                  sum(CASE WHEN mt.key = 'completions/count' THEN mt.value END) AS completions,
                  sum(CASE WHEN mt.key = 'time/step_s' THEN mt.value END) AS seconds,
                  count(CASE WHEN mt.key = 'time/step_s' THEN 1 END) AS steps,
                  count(DISTINCT r.id) AS seeds
           FROM metrics mt JOIN runs r ON r.id = mt.run_id WHERE r.name LIKE 'algo-%' GROUP BY algo)
SELECT e.algo AS algorithm,
  round(100 * avg(CASE WHEN step = $every THEN v END), 1) AS pass1_25,
  round(100 * avg(CASE WHEN step = $((2 * every)) THEN v END), 1) AS pass1_50,
  round(100 * avg(CASE WHEN step = $((3 * every)) THEN v END), 1) AS pass1_75,
  round(100 * avg(CASE WHEN step = $((4 * every)) THEN v END), 1) AS pass1_100,
  round(t.completions / t.seconds, 1) AS samples_per_s,
  round(t.seconds / t.steps, 2) AS step_s,
  t.seeds AS seeds
FROM e JOIN t ON t.algo = e.algo GROUP BY e.algo ORDER BY pass1_100 DESC" --db "$db"
