// Recipes: TOML -> typed sections, includes, --set, and every kind of bad key or value.
#include <doctest/doctest.h>

#include "text/value_binder.h"
#include "experiments/recipe_loader.h"
#include "rl/recipe.h"
#include "tests/test_util.h"

using namespace r1;
using r1::test::TempDir;
using r1::test::write_file;

static std::string error_of(const std::string& path, const std::vector<std::string>& sets = {}) {
  try {
    rl::load_recipe(path, sets);
  } catch (const experiments::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("a recipe binds onto the typed sections and keeps defaults for absent keys") {
  TempDir d;
  write_file(d / "r.toml", R"(
[run]
seed = 7
steps = 12
[rl]
lr = 1e-5
loss_agg = "seq_mean_token_mean"
beta = 0
[rollout]
group_size = 4
stop = ["</answer>"]
[[rewards]]
name = "format"
weight = 0.5
[[rewards]]
name = "math_accuracy"
timeout = "250ms"
)");
  auto r = rl::load_recipe(d / "r.toml", {});
  CHECK(r.recipe.run.seed == 7);
  CHECK(r.recipe.run.steps == 12);
  CHECK(r.recipe.run.name == "r");  // the file's stem
  CHECK(r.recipe.rl.lr == doctest::Approx(1e-5));
  CHECK(r.recipe.rl.loss_agg == rl::LossAggregation::seq_mean_token_mean);
  CHECK(r.recipe.rl.beta == 0.0);
  CHECK(r.recipe.rl.eps_high == doctest::Approx(0.28));  // default
  CHECK(r.recipe.rollout.group_size == 4);
  CHECK(r.recipe.rollout.stop == std::vector<std::string>{"</answer>"});
  REQUIRE(r.recipe.rewards.size() == 2);
  CHECK(r.recipe.rewards[0].weight == 0.5);
  CHECK(r.recipe.rewards[1].timeout_s == doctest::Approx(0.25));
}

TEST_CASE("defaults of a recipe without [rl] are R1-Zero's at small scale") {
  TempDir d;
  write_file(d / "r.toml", "[run]\nsteps = 1\n");
  auto r = rl::load_recipe(d / "r.toml", {});
  CHECK(r.recipe.rollout.group_size == 16);
  CHECK(r.recipe.rollout.temperature == 1.0);
  CHECK(r.recipe.rl.beta == doctest::Approx(0.001));
  CHECK(r.recipe.rl.ref_sync_every == 400);
  CHECK(r.recipe.rl.loss_agg == rl::LossAggregation::token_mean);
  CHECK(r.recipe.rl.eps_low == doctest::Approx(0.2));
  CHECK(r.recipe.rl.eps_high == doctest::Approx(0.28));
  REQUIRE(r.recipe.rewards.size() == 2);
  CHECK(r.recipe.rewards[0].name == "math_accuracy");
  CHECK(r.recipe.rewards[1].name == "format");
}

TEST_CASE("include merges a base recipe and the including file overrides it") {
  TempDir d;
  std::filesystem::create_directories(d.path / "sub");
  write_file(d / "sub/base.toml", "[run]\nseed = 3\nsteps = 50\n[rl]\nlr = 2e-6\nbeta = 0.04\n");
  write_file(d / "child.toml", "include = [\"sub/base.toml\"]\n[run]\nsteps = 5\n");
  auto r = rl::load_recipe(d / "child.toml", {});
  CHECK(r.recipe.run.seed == 3);
  CHECK(r.recipe.run.steps == 5);
  CHECK(r.recipe.rl.beta == doctest::Approx(0.04));
}

TEST_CASE("--set overrides any key, including inside arrays of tables") {
  TempDir d;
  write_file(d / "r.toml", "[rl]\nlr = 1e-6\n[[rewards]]\nname = \"format\"\n");
  auto r = rl::load_recipe(d / "r.toml", {"rl.lr=5e-6", "rl.eps_high=0.3", "rewards.0.weight=2", "data.dataset=math500",
                                           "run.tags=[\"a\", \"b\"]"});
  CHECK(r.recipe.rl.lr == doctest::Approx(5e-6));
  CHECK(r.recipe.rl.eps_high == doctest::Approx(0.3));
  CHECK(r.recipe.rewards[0].weight == 2.0);
  CHECK(r.recipe.data.dataset == "math500");
  CHECK(r.recipe.run.tags == std::vector<std::string>{"a", "b"});
}

TEST_CASE("unknown keys name the file line and suggest the closest valid key") {
  TempDir d;
  write_file(d / "r.toml", "[run]\nseed = 1\n\n[rl]\nlr = 1e-6\nclip_eps_hihg = 0.28\neps_hihg = 0.3\n");
  std::string e = error_of(d / "r.toml");
  CHECK(e.find("r.toml:6") != std::string::npos);
  CHECK(e.find("unknown key 'rl.clip_eps_hihg'") != std::string::npos);
  write_file(d / "r2.toml", "[rl]\neps_hihg = 0.3\n");
  e = error_of(d / "r2.toml");
  CHECK(e.find("r2.toml:2") != std::string::npos);
  CHECK(e.find("did you mean 'rl.eps_high'") != std::string::npos);
  write_file(d / "r3.toml", "[rollot]\ngroup_size = 4\n");
  e = error_of(d / "r3.toml");
  CHECK(e.find("did you mean 'rollout'") != std::string::npos);
  e = error_of(d / "r2.toml", {"rl.eps_high=0.3", "rl.bta=0"});
  CHECK(!e.empty());
}

TEST_CASE("wrong types, out-of-range values and bad enum names are errors with the line") {
  TempDir d;
  write_file(d / "a.toml", "[run]\nsteps = \"ten\"\n");
  CHECK(error_of(d / "a.toml").find("a.toml:2: run.steps: expected an integer") != std::string::npos);
  write_file(d / "b.toml", "[rl]\n\neps_low = 1.5\n");
  CHECK(error_of(d / "b.toml").find("b.toml:3: rl.eps_low: value 1.5 is out of range [0, 1]") != std::string::npos);
  write_file(d / "c.toml", "[rl]\nloss_agg = \"token_man\"\n");
  std::string e = error_of(d / "c.toml");
  CHECK(e.find("c.toml:2") != std::string::npos);
  CHECK(e.find("did you mean \"token_mean\"") != std::string::npos);
  write_file(d / "d.toml", "[rl]\nmu = 1.5\n");
  CHECK(error_of(d / "d.toml").find("expected an integer") != std::string::npos);
  write_file(d / "e.toml", "[rl\nmu = 1\n");
  CHECK(error_of(d / "e.toml").find("e.toml:1") != std::string::npos);
  write_file(d / "f.toml", "rl = 3\n");
  CHECK(error_of(d / "f.toml").find("expected a table") != std::string::npos);
  write_file(d / "g.toml", "[[rewards]]\nname = \"x\"\ntimeout = \"forever\"\n");
  CHECK(error_of(d / "g.toml").find("g.toml:3: rewards.0.timeout: expected a duration") != std::string::npos);
  CHECK(error_of(d / "missing.toml").find("missing.toml: recipe not found") != std::string::npos);
  write_file(d / "h.toml", "include = [\"nope.toml\"]\n");
  CHECK(error_of(d / "h.toml").find("h.toml:1: included recipe") != std::string::npos);
  write_file(d / "i.toml", "include = [\"i.toml\"]\n");
  CHECK(error_of(d / "i.toml").find("include cycle") != std::string::npos);
  CHECK(error_of(d / "a.toml", {"nonsense"}).find("expected section.key=value") != std::string::npos);
}

TEST_CASE("the resolved recipe printed as TOML reads back to the same config") {
  TempDir d;
  write_file(d / "r.toml", "[rl]\nlr = 1e-5\nscale = \"none\"\n[[rewards]]\nname = \"overlong\"\nmax_len = 512\n"
                           "cache_len = 128\n[rollout]\nstop = [\"</answer>\", \"\\n\\n\"]\n");
  auto r = rl::load_recipe(d / "r.toml", {});
  std::string toml = experiments::to_toml(r.resolved);
  CHECK(toml.find("# AdamW peak learning rate") != std::string::npos);
  write_file(d / "resolved.toml", toml);
  auto back = rl::load_recipe(d / "resolved.toml", {});
  CHECK(experiments::to_toml(back.resolved) == toml);
  CHECK(back.recipe.rewards[0].options_json.find("\"max_len\": 512") != std::string::npos);
  // Flattened params address arrays of tables by index.
  auto flat = experiments::flatten(r.resolved);
  bool found = false;
  for (const auto& [k, v] : flat) found = found || (k == "rewards.0.cache_len" && v == "128");
  CHECK(found);
}

TEST_CASE("durations and sizes parse with units") {
  bool ok = false;
  CHECK(text::parse_duration_seconds("2s", ok) == 2.0);
  CHECK(ok);
  CHECK(text::parse_duration_seconds("250ms", ok) == doctest::Approx(0.25));
  CHECK(text::parse_duration_seconds("1.5m", ok) == doctest::Approx(90));
  text::parse_duration_seconds("soon", ok);
  CHECK(!ok);
  CHECK(text::parse_byte_size("256M", ok) == 256LL << 20);
  CHECK(text::parse_byte_size("1G", ok) == 1LL << 30);
  CHECK(text::parse_byte_size("64KiB", ok) == 64LL << 10);
  text::parse_byte_size("12Q", ok);
  CHECK(!ok);
  CHECK(text::closest_match("lr_shcedule", {"lr", "lr_schedule", "lr_min"}) == "lr_schedule");
  CHECK(text::closest_match("zzzzzz", {"lr", "beta"}).empty());
}

TEST_CASE("GSPO: ratio = sequence defaults to seq_mean_token_mean and the paper's clip range, unless set") {
  TempDir d;
  write_file(d / "g.toml", "[rl]\nratio = \"sequence\"\n");
  auto r = rl::load_recipe(d / "g.toml", {});
  CHECK(r.recipe.rl.loss_agg == rl::LossAggregation::seq_mean_token_mean);
  CHECK(r.recipe.rl.eps_low == doctest::Approx(3e-4));
  CHECK(r.recipe.rl.eps_high == doctest::Approx(4e-4));
  std::string shown = experiments::to_toml(r.resolved);
  CHECK(shown.find("GSPO default") != std::string::npos);
  CHECK(shown.find("eps_high = 4e-04") != std::string::npos);
  // what the recipe (or --set) says wins
  auto s = rl::load_recipe(d / "g.toml", {"rl.eps_high=0.01", "rl.loss_agg=token_mean"});
  CHECK(s.recipe.rl.eps_high == doctest::Approx(0.01));
  CHECK(s.recipe.rl.eps_low == doctest::Approx(3e-4));
  CHECK(s.recipe.rl.loss_agg == rl::LossAggregation::token_mean);
  // token ratios keep PPO's defaults
  write_file(d / "t.toml", "[rl]\nratio = \"token\"\n");
  auto t = rl::load_recipe(d / "t.toml", {});
  CHECK(t.recipe.rl.eps_low == doctest::Approx(0.2));
  CHECK(t.recipe.rl.loss_agg == rl::LossAggregation::token_mean);
}

TEST_CASE("recipes that cannot learn stop at load, naming the key and where it was written") {
  TempDir d;
  write_file(d / "a.toml", "[run]\nsteps = 1\n[rl]\nadv_eps = 0\n");
  auto e = error_of(d / "a.toml");
  CHECK(e.find("a.toml:4") != std::string::npos);
  CHECK(e.find("rl.adv_eps") != std::string::npos);
  CHECK(error_of(d / "a.toml", {"rl.scale=none"}) == "");  // Dr. GRPO divides by nothing
  write_file(d / "g.toml", "[rollout]\ngroup_size = 1\n");
  CHECK(error_of(d / "g.toml").find("g.toml:2: rollout.group_size") != std::string::npos);
  write_file(d / "t.toml", "[rollout]\ntemperature = 0\n");
  CHECK(error_of(d / "t.toml").find("rollout.temperature") != std::string::npos);
  write_file(d / "c.toml", "[rl]\nclip_ratio_c = 0.5\n");
  CHECK(error_of(d / "c.toml").find("rl.clip_ratio_c") != std::string::npos);
  write_file(d / "i.toml", "[rl]\nis_correction = \"tis\"\nis_cap = 1\n");
  CHECK(error_of(d / "i.toml").find("rl.is_cap") != std::string::npos);
  CHECK(error_of(d / "i.toml", {"rl.is_cap=2"}) == "");
  // PPO: GAE needs a critic, a critic needs GAE, GAE's advantages are not per group, and a warm-up
  // as long as the run would never update the policy.
  write_file(d / "p.toml", "[run]\nsteps = 10\n[rl]\nadvantage = \"gae\"\nscale = \"batch\"\n");
  CHECK(error_of(d / "p.toml") == d / "p.toml" + ":4: rl.advantage: gae needs a value model: set rl.critic = \"head\" or \"separate\"");
  CHECK(error_of(d / "p.toml", {"rl.critic=separate"}) == "");
  CHECK(error_of(d / "p.toml", {"rl.critic=head", "rl.scale=group"}).find("--set rl.scale: rl.scale: GAE's advantages are per token") == 0);
  CHECK(error_of(d / "p.toml", {"rl.critic=head", "rl.critic_warmup=10"}).find("rl.critic_warmup: the policy would never be updated") !=
        std::string::npos);
  CHECK(error_of(d / "p.toml", {"rl.critic=head", "rl.advantage=grpo"}).find("rl.critic: only advantage = \"gae\" uses a critic") !=
        std::string::npos);
  CHECK(error_of(d / "p.toml", {"rl.critic=tower"}).find("rl.critic") != std::string::npos);
}

TEST_CASE("paths resolve against the recipe that writes them, --set paths against the current folder") {
  TempDir d;
  namespace fs = std::filesystem;
  fs::create_directories(d / "exp/models");
  fs::create_directories(d / "shared/tok");
  fs::create_directories(d / "cwd");
  write_file(d / "exp/models/m.json", "{}");
  write_file(d / "exp/train.jsonl", "");
  write_file(d / "exp/score.py", "");
  write_file(d / "shared/tok/tokenizer.json", "{}");
  write_file(d / "cwd/other.jsonl", "");
  // The base lives in another folder: its tokenizer path is relative to it, not to exp/.
  write_file(d / "shared/base.toml", "[model]\ntokenizer = \"tok\"\n");
  write_file(d / "exp/r.toml", "include = [\"../shared/base.toml\"]\n[model]\ninit = \"models/m.json\"\n"
                               "[data]\ndataset = \"jsonl\"\npath = \"train.jsonl\"\n"
                               "[[rewards]]\nname = \"mine\"\nexec = [\"python3\", \"score.py\", \"--flag\", \"absent.txt\"]\n");
  struct Cwd {
    fs::path before = fs::current_path();
    explicit Cwd(const fs::path& p) { fs::current_path(p); }
    ~Cwd() { fs::current_path(before); }
  } in(d / "cwd");
  const std::string root = fs::canonical(d.path).string();
  auto r = rl::load_recipe("../exp/r.toml", {});
  CHECK(r.recipe.model.init == root + "/exp/models/m.json");
  CHECK(r.recipe.model.tokenizer == root + "/shared/tok");
  CHECK(r.recipe.data.path == root + "/exp/train.jsonl");
  CHECK(r.recipe.rewards[0].exec == std::vector<std::string>{"python3", root + "/exp/score.py", "--flag", "absent.txt"});
  // The resolved tree (what config show prints and the store records) holds the same.
  CHECK(r.resolved["model"]["init"].as_string() == root + "/exp/models/m.json");
  // --set was typed here: relative to the current folder.
  auto s = rl::load_recipe("../exp/r.toml", {"data.path=other.jsonl"});
  CHECK(s.recipe.data.path == root + "/cwd/other.jsonl");
  // A missing input: the line that wrote it, the key, the path as written and the path tried.
  CHECK(error_of("../exp/r.toml", {"model.init=nope.json"}) ==
        "--set model.init: model.init: \"nope.json\" not found (tried " + root + "/cwd/nope.json)");
  write_file(d / "exp/bad.toml", "[model]\n\ninit = \"models/gone.json\"\n");
  CHECK(error_of("../exp/bad.toml") == "../exp/bad.toml:3: model.init: \"models/gone.json\" not found (tried " + root +
                                           "/exp/models/gone.json)");
  // Shown without the check (config show), still resolved.
  auto shown = rl::load_recipe("../exp/bad.toml", {}, false);
  CHECK(shown.recipe.model.init == root + "/exp/models/gone.json");
  REQUIRE(shown.missing_inputs.size() == 1);
  CHECK(shown.missing_inputs[0] == error_of("../exp/bad.toml"));
  // ~ is the home folder.
  const char* home = std::getenv("HOME");
  std::string saved = home ? home : "";
  setenv("HOME", (d / "exp").c_str(), 1);
  CHECK(text::resolve_path("~/models/m.json", {}) == (d / "exp/models/m.json"));
  if (home) setenv("HOME", saved.c_str(), 1);
  else unsetenv("HOME");
}

TEST_CASE("the algorithm recipes load and differ from grpo.toml only in what they name") {
  namespace fs = std::filesystem;
  const std::string dir = std::string(R1_SOURCE_DIR) + "/experiments/recipes/algos";
  auto load = [&](const std::string& name) { return rl::load_recipe(dir + "/" + name + ".toml", {}, /*require_paths=*/false).recipe; };
  const rl::Recipe grpo = load("grpo");
  CHECK(grpo.rl.advantage == rl::AdvantageEstimator::grpo);
  CHECK(grpo.rl.policy_loss == rl::PolicyLoss::ppo_clip);
  int count = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    rl::Recipe r = load(e.path().stem().string());
    INFO(e.path().string());
    CHECK(r.run.name == "algo-" + e.path().stem().string());
    CHECK(r.run.steps == grpo.run.steps);
    CHECK(r.rl.lr == grpo.rl.lr);
    CHECK(r.rl.prompts_per_step == grpo.rl.prompts_per_step);
    CHECK(r.rollout.group_size == grpo.rollout.group_size);
    ++count;
  }
  CHECK(count == 11);
  CHECK(load("rloo").rl.advantage == rl::AdvantageEstimator::rloo);
  CHECK(load("remax").rl.scale == rl::AdvantageScale::none);
  CHECK(load("cispo").rl.policy_loss == rl::PolicyLoss::cispo);
  CHECK(load("sapo").rl.policy_loss == rl::PolicyLoss::sapo);
  CHECK(load("gspo").rl.eps_high == doctest::Approx(rl::kGspoEpsHigh));
  CHECK(load("reinforce_pp").rl.advantage == rl::AdvantageEstimator::reinforce_pp);
  CHECK(load("dr_grpo").rl.loss_agg == rl::LossAggregation::seq_mean_token_sum_norm);
  CHECK(load("ppo").rl.critic == rl::CriticKind::separate);
  CHECK(load("ppo_head").rl.critic == rl::CriticKind::head);
  CHECK(load("ppo_head").rl.advantage == rl::AdvantageEstimator::gae);
}
