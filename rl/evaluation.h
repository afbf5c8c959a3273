// Held-out evaluation as R1 reports it: k samples per problem; pass@1 = mean correctness over
// the k samples, unbiased pass@k (Chen et al. 2021), maj@k (majority vote over the extracted
// answers, grouped by the verifier's equivalence), format rate and mean length. Correctness and
// format are decided by the training rewards (judge()); math answers are extracted leniently
// (answer tags, boxed, or the last number), so format alone cannot score.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "datasets/task.h"
#include "text/prompt_format.h"
#include "rewards/reward.h"
#include "rollout/engine.h"
#include "rl/policy_setup.h"

namespace r1::rl {

struct EvalOptions {
  int64_t k = 4;
  double temperature = 0.6;
  double top_p = 0.95;
  int64_t max_new_tokens = 256;
  uint64_t seed = 1;
  std::vector<std::string> stop;
  std::string language = "en";  // the language whose share of chain-of-thought words is reported
};

struct EvalResult {
  int64_t problems = 0, samples = 0;
  double pass1 = 0, pass_k = 0, maj_k = 0, format_rate = 0, mean_length = 0;
  double language = 0;  // mean share of chain-of-thought words in the options' language (R1's language consistency)
  std::map<std::string, double> metrics() const;  // "pass@1", "pass@k", "maj@k", "format", "length", "language"
};

// Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k).
double pass_at_k(int64_t n, int64_t c, int64_t k);
// Is each completion a correct answer to its task, and in R1's format? Decided by the same reward
// path as training — the accuracy reward of the task's verifier kind (math_accuracy, code_tests in
// the sandbox, countdown, exact_match) and the `format` reward — in one batch per kind.
struct Judgement {
  bool correct = false, formatted = false;
};
std::vector<Judgement> judge(const std::vector<const datasets::Task*>& tasks, const std::vector<const rollout::Completion*>& completions);

// Scores completions[i] as an answer to tasks[i] with a reward stage of `specs`, as training does
// (quietly: failures are counted in the result, not logged).
rewards::StageResult score_with_rewards(const std::vector<rewards::RewardSpec>& specs, const std::vector<const datasets::Task*>& tasks,
                                        const std::vector<const rollout::Completion*>& completions);

// The task as the rewards see it, and its prompt ids (its chat messages when the data set has
// them, else the question, through the recipe's template).
rewards::TaskRef task_ref(const datasets::Task& t);
std::vector<int32_t> prompt_ids(const text::PromptFormat& format, const datasets::Task& t);

// One request per task: `k` samples each, with the task's own seed (seed * 1000003 + index), so
// what a task gets does not depend on the batch it is decoded in.
std::vector<rollout::Request> sampling_requests(const text::PromptFormat& format, const std::vector<datasets::Task>& tasks,
                                                const EvalOptions& options);

// A model ready to sample from (evaluation, rejection sampling): the policy in eval mode, its
// prompt format and a KV-cache engine decoding up to `batch` sequences together. Not movable:
// the format and the engine refer to the policy's tokenizer.
class SamplingModel {
 public:
  SamplingModel(const policy::PolicyConfig& config, const std::string& template_name, uint64_t seed, torch::Device device, int64_t batch);
  SamplingModel(const SamplingModel&) = delete;
  SamplingModel& operator=(const SamplingModel&) = delete;

  PolicyBundle policy;
  text::PromptFormat format;
  rollout::Engine engine;
};

EvalResult evaluate(rollout::Engine& engine, const std::vector<datasets::Task>& tasks, const text::PromptFormat& format,
                    const EvalOptions& options);

}  // namespace r1::rl
