// `r1 reward score|list`, and the hidden plugin host used by `isolate = true`.
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "rewards/reward.h"
#include "rl/recipe.h"

namespace r1::cli {

rewards::StageOptions reward_stage_options(int threads) {
  rewards::StageOptions o;
  o.threads = threads;
  o.isolate_host = {"/proc/self/exe", "__reward-host"};
  return o;
}

void add_reward_commands(CLI::App& app, Context& ctx) {
  auto* reward = app.add_subcommand("reward", "Score completions offline; list the built-in rewards");
  reward->require_subcommand(1);

  struct Args {
    std::string recipe, input, output;
    std::vector<std::string> sets;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* score = reward->add_subcommand("score", "Score {\"task\": {...}, \"completion\": \"...\"} lines with a recipe's [[rewards]]");
  score->add_option("--recipe", a->recipe, "recipe whose [[rewards]] are used")->required()->check(CLI::ExistingFile);
  score->add_option("--set", a->sets, "override a recipe key (repeatable)");
  score->add_option("--input", a->input, "JSON Lines of {\"task\": {id, prompt, answer, tests, metadata}, \"completion\": text}")
      ->required()->check(CLI::ExistingFile);
  score->add_option("--output,-o", a->output, "JSON Lines output (default: standard output)");
  score->add_option("--threads", a->threads, "scoring threads (0 = all cores)");
  score->callback([a, &ctx] {
    rl::ResolvedRecipe r = rl::load_recipe(a->recipe, a->sets);
    auto stage = rewards::RewardStage::build(r.recipe.rewards, reward_stage_options(a->threads));
    std::vector<rewards::TaskRef> tasks;
    std::vector<rewards::CompletionRef> comps;
    std::vector<Json> lines;
    for_each_json_line(a->input, [&](int64_t line, const Json& j) {
      std::string where = a->input + ":" + std::to_string(line);
      if (!j.contains("task") || !j["task"].is_object() || !j.contains("completion"))
        throw InputError(where + ": needs \"task\" (object) and \"completion\"");
      rewards::TaskRef t;
      rewards::CompletionRef c;
      std::string err;
      if (!rewards::json_decode_request(j.dump(), t, c, err)) throw InputError(where + ": " + err);
      if (c.tokens == 0) c.tokens = static_cast<int64_t>(c.text.size() / 4);  // rough when not given
      tasks.push_back(t);
      comps.push_back(c);
      lines.push_back(j);
    });
    std::vector<const rewards::TaskRef*> tp;
    std::vector<const rewards::CompletionRef*> cp;
    for (size_t i = 0; i < tasks.size(); ++i) tp.push_back(&tasks[i]), cp.push_back(&comps[i]);
    auto res = stage.score(tp, cp);
    LineWriter out(a->output);
    for (size_t i = 0; i < tasks.size(); ++i) {
      Json comps_j = Json::object(), infos = Json::object();
      for (size_t f = 0; f < res.names.size(); ++f) {
        comps_j[res.names[f]] = res.components[f][i];
        infos[res.names[f]] = Json::parse(res.infos[f][i], nullptr, false);
      }
      Json errors = Json::array();
      if (!res.errors[i].empty()) errors.push_back(res.errors[i]);
      out.write(Json{{"total", res.totals[i]}, {"components", comps_j}, {"info", infos}, {"errors", errors}, {"drop", static_cast<bool>(res.drop[i])}});
    }
    out.close();
  });

  auto* list = reward->add_subcommand("list", "Built-in reward functions and their options");
  list->callback([&ctx] {
    if (ctx.json) {
      Json arr = Json::array();
      for (const auto& b : rewards::builtin_rewards()) {
        Json opts = Json::array();
        for (const auto& o : b.options) opts.push_back({{"name", o.name}, {"type", o.type}, {"default", Json::parse(o.fallback)}, {"doc", o.doc}});
        arr.push_back({{"name", b.name}, {"doc", b.doc}, {"options", opts}});
      }
      std::cout << arr.dump(2) << "\n";
      return;
    }
    for (const auto& b : rewards::builtin_rewards()) {
      std::cout << b.name << "\n    " << b.doc << "\n";
      for (const auto& o : b.options)
        std::cout << "    " << o.name << " = " << o.fallback << "  (" << o.type << ") " << o.doc << "\n";
    }
    std::cout << "\nplugins: `plugin = \"lib.so\"` (rewards/r1_reward_plugin.h; isolate = true for a helper process),\n"
                 "         `exec = [\"python3\", \"my_reward.py\"]` (JSON Lines on stdin/stdout; timeout, max_restarts)\n";
  });

  // Not in --help: the helper process that hosts an isolated shared-library plugin.
  auto host_args = std::make_shared<std::vector<std::string>>();
  auto* host = app.add_subcommand("__reward-host", "");
  host->group("");
  host->add_option("args", *host_args)->expected(2);
  host->callback([host_args] { std::exit(rewards::run_plugin_host((*host_args)[0], (*host_args)[1])); });
}

}  // namespace r1::cli
