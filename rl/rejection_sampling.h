// Rejection sampling (R1, section 2.3.3; `r1 sample`): N completions per prompt from a model,
// judged by the same verifiers and rewards as training, kept by rules, deduplicated per prompt and
// selected, to become SFT data. The rules:
//   correct            the task's verifier accepts the answer (as training's accuracy reward)
//   format             R1's <think>/<answer> format (the `format` reward)
//   finished           not cut at the length limit
//   language=en[:0.95] at least that share of the chain of thought in the language (R1's
//                      language-consistency reward); en | zh
//   max_tokens=N       at most N completion tokens
//   no_repetition[=0.1] at most that share of repeated word 3-grams (Open-R1's repetition measure)
// and one selection per prompt among the samples that pass: all_correct (every one; the
// default), best_of=K (the K best: correct, formatted, in the language, least repetitive,
// shortest) or first_k=K (the first K in sampling order). Identical answers to one prompt
// (whitespace aside) are kept once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "datasets/task.h"
#include "rollout/engine.h"

namespace r1::rl {

struct KeepRules {
  bool correct = false, format = false, finished = false, no_repetition = false;
  std::string language;         // "" = no language rule
  double language_min = 0.95;   // share of chain-of-thought words in `language`
  int64_t max_tokens = 0;       // 0 = no limit
  double repetition_max = 0.1;  // share of repeated word 3-grams allowed
  enum class Select { all_correct, best_of, first_k } select = Select::all_correct;
  int64_t select_k = 0;

  // The rules in canonical form ("correct,format,language=en:0.95,best_of=2"), for the store.
  std::string text() const;
};

// Parses a comma-separated --keep value. Throws std::invalid_argument naming the bad rule.
KeepRules parse_keep_rules(const std::string& spec);

// One sampled completion and what the rules look at.
struct Candidate {
  int64_t prompt = 0, sample = 0;  // index of its task, and of the sample for that task
  std::string text;
  int64_t tokens = 0;
  bool finished = true;            // ended by an end token or a stop string, not the length limit
  bool correct = false, formatted = false;
  double language = 1.0;           // share of chain-of-thought words in the rules' language
  double repetition = 0.0;         // share of repeated word 3-grams
};

// Judges completions of `tasks` (completions[i] answers tasks[i]) with the training verifiers
// and rewards; the language share is measured only when `rules` name a language.
std::vector<Candidate> score_candidates(const std::vector<const datasets::Task*>& tasks,
                                        const std::vector<const rollout::Completion*>& completions, const KeepRules& rules);

// What the rules did: samples dropped under the first rule each one failed ("correct", "format",
// "finished", "language", "max_tokens", "no_repetition", "duplicate", then "selection" for
// passing samples the per-prompt selection left out), and what was kept.
struct SelectionCounts {
  std::map<std::string, int64_t> dropped;
  int64_t kept = 0, prompts_kept = 0, samples = 0, prompts = 0;
};

// The kept candidates (indices into `candidates`, by prompt then sample), and the counts.
std::vector<size_t> select_candidates(const std::vector<Candidate>& candidates, const KeepRules& rules, SelectionCounts* counts);

}  // namespace r1::rl
