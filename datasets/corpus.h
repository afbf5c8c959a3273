// Pretraining text for the demo's base model: generated problems with worked reasoning, most in
// R1's format (<think> ... </think> <answer> ... </answer>) and some in other styles. Two kinds of
// imperfection, each a configurable share: a bad habit (forgetting every carry, a systematic
// error the base model learns as a mode) and one-off slips (a wrong digit sum, a miscopied
// result). The base model then answers right only some of the time — as V3-Base did before
// R1-Zero — while right answers stay within its reach for RL to reinforce. A third, optional
// imperfection is R1-Zero's language mixing: a share of solutions write some of their steps in
// Chinese, so a language-consistency reward or rejection-sampling rule has something to fix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/task.h"

namespace r1::datasets {

struct CorpusOptions {
  double error_share = 0.15;   // solutions with a one-off slip
  double habit_share = 0.6;    // solutions that forget every carry
  double format_share = 0.7;   // solutions in R1's format (the rest in other styles)
  uint64_t seed = 1;
  double mixed_language_share = 0.0;  // solutions with some steps written in Chinese (drawn apart:
                                      // 0 leaves every other choice, and the corpus, unchanged)
};

struct WorkedSolution {
  std::string completion;  // what follows the prompt
  bool correct = true;
  bool r1_format = true;
  bool mixed_language = false;  // some steps in Chinese
};

// A worked solution of an arithmetic task (from generate_arithmetic).
// With `mixed_language` about half of the steps are written in Chinese; the numbers, and so the
// answer and its correctness, are those of the same solution without it.
WorkedSolution worked_arithmetic(const Task& task, bool with_error, bool forget_carries, bool r1_format, uint64_t seed,
                                 bool mixed_language = false);
// A worked solution of a Countdown task (from generate_countdown).
WorkedSolution worked_countdown(const Task& task, bool with_error, bool r1_format, uint64_t seed, bool mixed_language = false);

// A worked solution of a generated code task (from generate_code): the function in a fenced
// Python block; `with_error` gets one constant wrong.
WorkedSolution worked_code(const Task& task, bool with_error, bool r1_format, uint64_t seed, bool mixed_language = false);

// One worked solution per task, errors and styles drawn with the given shares.
std::vector<WorkedSolution> worked_solutions(const std::vector<Task>& tasks, const CorpusOptions& o);

}  // namespace r1::datasets
