// Rewards: functions that score one completion of one task, composed into a weighted total by a
// RewardStage that scores a whole step's completions in parallel. Built-ins are R1's (accuracy,
// format), DAPO's overlong punishment, TinyZero's Countdown rule, Open-R1's tag count and
// repetition penalty, language consistency and a length penalty. Plugins: shared libraries
// (r1_reward_plugin.h; in-process or isolated in a helper process) and any program speaking JSON
// Lines. A failing, hanging or crashing reward never throws out of the stage: the sample gets the
// entry's on_error value, the failure is counted and logged once.
//
//   RewardStage stage = RewardStage::build(recipe.rewards, {.threads = 2});
//   StageResult r = stage.score(tasks, completions);   // r.totals[i], r.components[f][i]
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "rewards/reward_spec.h"

namespace r1::rewards {

// A reward entry that cannot be built: unknown name or option, bad value, missing plugin.
class RewardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TaskRef {
  std::string id, prompt, answer, tests_json, metadata_json = "{}", verifier = "math";
};

struct CompletionRef {
  std::string text;
  int64_t tokens = 0;
  std::string finish_reason = "eos";  // eos | stop | length
};

struct RewardValue {
  double value = 0;
  std::string info_json = "{}";  // what the function found (extracted answer, verdict)
  std::string error;             // non-empty: the call failed
};

class RewardFunction {
 public:
  virtual ~RewardFunction() = default;
  virtual RewardValue score(const TaskRef& task, const CompletionRef& completion) = 0;
  // False when calls must not overlap (one plugin process): the stage then serialises them.
  virtual bool thread_safe() const { return true; }
  // True when the function scores a whole step in one call (a plugin's batch entry point): the
  // stage then calls score_batch once instead of score per sample.
  virtual bool batched() const { return false; }
  virtual std::vector<RewardValue> score_batch(const std::vector<const TaskRef*>& tasks,
                                               const std::vector<const CompletionRef*>& completions) {
    std::vector<RewardValue> out;
    for (size_t i = 0; i < completions.size(); ++i) out.push_back(score(*tasks[i], *completions[i]));
    return out;
  }
};

// Options of one [[rewards]] entry, validated against the function's declared options.
struct OptionSpec {
  std::string name;
  std::string type;     // number | integer | bool | string | strings
  std::string fallback; // default, as JSON text
  std::string doc;
};

class RewardOptions {
 public:
  // Throws RewardError naming `where` (recipe line) for unknown keys (with a suggestion) and types.
  RewardOptions(const std::string& json, const std::vector<OptionSpec>& specs, const std::string& where);
  double number(const std::string& k) const;
  int64_t integer(const std::string& k) const;
  bool boolean(const std::string& k) const;
  std::string string(const std::string& k) const;
  std::vector<std::string> strings(const std::string& k) const;
  const std::string& where() const { return where_; }

 private:
  std::map<std::string, std::string> values_;  // name -> JSON text
  std::string where_;
};

struct BuiltinReward {
  std::string name, doc;
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<RewardFunction>(const RewardOptions&)> make;
};
const std::vector<BuiltinReward>& builtin_rewards();

struct StageOptions {
  int threads = 0;                          // 0 = hardware threads
  std::vector<std::string> isolate_host;    // command that hosts an isolated plugin (r1 __reward-host)
  std::function<void(const std::string&)> log;  // one line per failure; default: stderr
};

struct StageResult {
  std::vector<double> totals;                     // per sample: weighted sum
  std::vector<std::vector<double>> components;    // [function][sample]
  std::vector<std::vector<std::string>> infos;    // [function][sample] info JSON
  std::vector<std::string> errors;                // per sample: "name: message; ..." or ""
  std::vector<bool> drop;                         // per sample: an on_error = "drop" function failed
  std::vector<int64_t> error_counts;              // per function
  std::string breakdown_json(size_t sample) const;  // {"name": value, ...}
  std::vector<std::string> names;
};

class RewardStage {
 public:
  static RewardStage build(const std::vector<RewardSpec>& specs, const StageOptions& options);
  RewardStage();
  ~RewardStage();
  RewardStage(RewardStage&&) noexcept;
  RewardStage& operator=(RewardStage&&) noexcept;

  // tasks[i] and completions[i] belong together.
  StageResult score(const std::vector<const TaskRef*>& tasks, const std::vector<const CompletionRef*>& completions);
  const std::vector<std::string>& names() const;
  const std::vector<double>& weights() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// JSON helpers shared by the reward implementations (rewards/json_support.cpp).
std::string json_quote(const std::string& s);
std::vector<int64_t> json_int_array(const std::string& json, const std::string& key);
bool json_parse_reward_line(const std::string& line, double& reward, std::string& info, std::string& error);
std::string json_request_line(const TaskRef& t, const CompletionRef& c);
bool json_decode_request(const std::string& line, TaskRef& t, CompletionRef& c, std::string& error);

// Runs a shared-library plugin behind the JSON Lines protocol on stdin/stdout (the isolated mode;
// `r1 __reward-host PLUGIN OPTIONS_JSON`). Returns the process exit code.
int run_plugin_host(const std::string& plugin_path, const std::string& options_json);

std::unique_ptr<RewardFunction> make_plugin_reward(const std::string& path, const std::string& options_json,
                                                   const std::string& where);
std::unique_ptr<RewardFunction> make_code_tests_reward(const RewardOptions& options);  // code_reward.cpp
std::unique_ptr<RewardFunction> make_task_accuracy_reward(const RewardOptions& options);  // task_accuracy.cpp
std::unique_ptr<RewardFunction> make_exec_reward(const std::vector<std::string>& command, double timeout_s,
                                                 int64_t max_restarts, const std::string& where);

}  // namespace r1::rewards
