// Tasks: what the policy is asked, and how its answer is checked. Loaders for the shared data
// sets (by name), a generic JSON Lines loader with a field mapping from the recipe, generators of
// verifiable synthetic tasks (arithmetic, Countdown), and deterministic shuffles and splits.
//
//   auto tasks = load_tasks(recipe.data, shared_dir);          // throws DataError with file:line
//   Split s = split_tasks(std::move(tasks), recipe.data, seed); // holdout first, then shuffle
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/data_config.h"

namespace r1::datasets {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Message {
  std::string role, content;
};

enum class VerifierKind { math, code, countdown, exact };
const char* to_string(VerifierKind k);

struct Task {
  std::string id;
  std::string question;           // the problem text
  std::vector<Message> messages;  // a chat prompt, when the data set provides one
  std::string answer;             // reference answer (math, countdown target, exact)
  std::string tests_json;         // code: {"stdin_tests": [...]} or {"test_code": ..., "entry_point": ...}
  VerifierKind verifier = VerifierKind::math;
  std::string metadata_json = "{}";  // e.g. countdown numbers, difficulty, source line
};

// A named set from `shared_dir`/datasets, "jsonl" (data.path with the field mapping), or a
// generator ("arithmetic", "countdown_gen", "code_gen"). Throws DataError naming the file and line.
std::vector<Task> load_tasks(const DataConfig& config, const std::string& shared_dir, uint64_t seed);
std::vector<std::string> dataset_names();

struct GeneratorOptions {
  int64_t count = 1000;
  int64_t difficulty = 2;  // arithmetic: digits per operand; countdown: how many numbers
  uint64_t seed = 1;
};
std::vector<Task> generate_arithmetic(const GeneratorOptions& o);
std::vector<Task> generate_countdown(const GeneratorOptions& o);
// "Write a Python function f(x) that returns (x + 3) * 2." with `difficulty` operations; judged by
// code_tests (five asserts) in the sandbox; the reference solution is the answer.
std::vector<Task> generate_code(const GeneratorOptions& o);

struct Split {
  std::vector<Task> train, heldout;
};
// The first `holdout` tasks (after a seeded shuffle) are held out; `limit` caps train.
Split split_tasks(std::vector<Task> tasks, const DataConfig& config, uint64_t seed);
void shuffle_tasks(std::vector<Task>& tasks, uint64_t seed);

// A deterministic cursor over the training tasks, reshuffled each epoch; its position is part
// of a checkpoint.
class TaskCursor {
 public:
  TaskCursor(const std::vector<Task>* tasks, uint64_t seed, bool shuffle);
  const Task& next();
  int64_t position() const { return position_; }  // tasks drawn so far
  void seek(int64_t position);                     // replay to a checkpointed position

 private:
  void reshuffle(int64_t epoch);
  const std::vector<Task>* tasks_;
  std::vector<size_t> order_;
  uint64_t seed_;
  bool shuffle_;
  int64_t position_ = 0, epoch_ = -1;
};

}  // namespace r1::datasets
