// `accuracy`: R1's rule-based reward for a mix of domains — each task is decided by the verifier
// of its own kind (math equivalence, the code sandbox, the Countdown checker, exact match), so
// one [[rewards]] entry serves a batch that mixes math and code tasks.
#include <map>

#include "rewards/reward.h"

namespace r1::rewards {

namespace {

// The built-in that decides each verifier kind, with the options it takes from this entry.
struct Route {
  const char* verifier;
  const char* reward;
};
constexpr Route kRoutes[] = {{"math", "math_accuracy"}, {"code", "code_tests"}, {"countdown", "countdown"}, {"exact", "exact_match"}};

class TaskAccuracy : public RewardFunction {
 public:
  explicit TaskAccuracy(const RewardOptions& o) {
    const std::string code_options = "{\"time_limit_s\": " + std::to_string(o.number("time_limit_s")) + ", \"lang\": \"" + o.string("lang") + "\"}";
    for (const auto& route : kRoutes) {
      // A formatted but wrong Countdown equation is wrong here, as in evaluation.
      const std::string options = std::string(route.verifier) == "code" ? code_options
                                  : std::string(route.verifier) == "countdown" ? "{\"format_score\": 0}"
                                                                               : "{}";
      for (const auto& b : builtin_rewards())
        if (b.name == route.reward) by_verifier_[route.verifier] = b.make(RewardOptions(options, b.options, o.where()));
    }
  }

  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    auto it = by_verifier_.find(t.verifier);
    if (it == by_verifier_.end()) return {0, "{}", "no verifier for tasks of kind '" + t.verifier + "'"};
    RewardValue v = it->second->score(t, c);
    v.info_json = "{\"verifier\": \"" + t.verifier + "\", \"by\": " + v.info_json + "}";
    return v;
  }

 private:
  std::map<std::string, std::unique_ptr<RewardFunction>> by_verifier_;
};

}  // namespace

std::unique_ptr<RewardFunction> make_task_accuracy_reward(const RewardOptions& o) { return std::make_unique<TaskAccuracy>(o); }

}  // namespace r1::rewards
