// One [[rewards]] entry of a recipe: which function, its weight, how failures count, and the
// function's own options (validated by the function when the reward stage is built).
#pragma once

#include <string>
#include <vector>

namespace r1::rewards {

struct RewardSpec {
  std::string name;                 // built-in name (r1 reward list), or a label for plugin/exec
  std::string plugin;               // path of a shared-library plugin (rewards/r1_reward_plugin.h)
  std::vector<std::string> exec;    // command of an exec plugin speaking JSON Lines
  double weight = 1.0;              // the total is the weighted sum of components
  double timeout_s = 10.0;          // per-call limit for plugins
  std::string on_error = "0";       // value of a failed call: a number, or "drop" to drop the group
  std::string on_truncated = "";    // value for completions cut at max length; "" = score normally
  bool isolate = false;             // run a shared-library plugin in a helper process
  std::string options_json = "{}";  // every other key of the entry
  std::string origin;               // where the entry was written, for error messages

  template <class V>
  void visit(V& v) {
    v("name", name, "built-in reward name (see r1 reward list), or a label for plugin/exec");
    v.path("plugin", plugin, "path of a shared-library reward plugin");
    v.command("exec", exec, "command of an exec reward plugin speaking JSON Lines (files beside the recipe resolve against it)");
    v("weight", weight, "weight in the total reward", -1e9, 1e9);
    v.duration("timeout", timeout_s, "per-call time limit of a plugin", 0.001, 86400);
    v("on_error", on_error, "value of a failed call (a number), or \"drop\" to drop the sample's group");
    v("on_truncated", on_truncated, "value for truncated completions (a number); empty = score normally");
    v("isolate", isolate, "run a shared-library plugin in a helper process");
    v.rest_as_json(options_json);
    v.origin(origin);
  }
};

}  // namespace r1::rewards
