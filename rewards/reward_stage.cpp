// Composition of reward entries and parallel scoring.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "rewards/reward.h"

namespace r1::rewards {

namespace {

struct Entry {
  std::string name;
  double weight = 1.0;
  bool drop_on_error = false;
  double error_value = 0.0;
  bool truncated_fixed = false;
  double truncated_value = 0.0;
  std::unique_ptr<RewardFunction> fn;
};

double parse_number(const std::string& text, const std::string& where, const std::string& key) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v))
    throw RewardError(where + ": " + key + " must be a number" + (key == "on_error" ? " or \"drop\"" : "") + ", got \"" + text + "\"");
  return v;
}

}  // namespace

struct RewardStage::Impl {
  std::vector<Entry> entries;
  std::vector<std::string> names;
  std::vector<double> weights;
  StageOptions options;
};

RewardStage::RewardStage() : impl_(std::make_unique<Impl>()) {}
RewardStage::~RewardStage() = default;
RewardStage::RewardStage(RewardStage&&) noexcept = default;
RewardStage& RewardStage::operator=(RewardStage&&) noexcept = default;

RewardStage RewardStage::build(const std::vector<RewardSpec>& specs, const StageOptions& options) {
  RewardStage stage;
  Impl& im = *stage.impl_;
  im.options = options;
  if (specs.empty()) throw RewardError("rewards: the recipe lists no [[rewards]]");
  for (size_t i = 0; i < specs.size(); ++i) {
    const RewardSpec& s = specs[i];
    std::string where = (s.origin.empty() ? "rewards." + std::to_string(i) : s.origin) + " [[rewards]] " +
                        (s.name.empty() ? "#" + std::to_string(i + 1) : "'" + s.name + "'");
    Entry e;
    e.weight = s.weight;
    if (s.on_error == "drop") e.drop_on_error = true;
    else e.error_value = parse_number(s.on_error, where, "on_error");
    if (!s.on_truncated.empty()) {
      e.truncated_fixed = true;
      e.truncated_value = parse_number(s.on_truncated, where, "on_truncated");
    }
    int kinds = !s.exec.empty() + !s.plugin.empty();
    if (kinds > 1) throw RewardError(where + ": set either plugin or exec, not both");
    if (!s.exec.empty()) {
      RewardOptions o(s.options_json, {{"max_restarts", "integer", "5", "restarts after crashes or timeouts"}}, where);
      e.name = s.name.empty() ? std::filesystem::path(s.exec.back()).stem().string() : s.name;
      e.fn = make_exec_reward(s.exec, s.timeout_s, o.integer("max_restarts"), where);
    } else if (!s.plugin.empty()) {
      if (!std::filesystem::exists(s.plugin)) throw RewardError(where + ": plugin file " + s.plugin + " not found");
      e.name = s.name.empty() ? std::filesystem::path(s.plugin).stem().string() : s.name;
      if (s.isolate) {
        if (options.isolate_host.empty()) throw RewardError(where + ": isolate = true needs a plugin host (run through r1)");
        std::vector<std::string> cmd = options.isolate_host;
        cmd.push_back(std::filesystem::absolute(s.plugin).string());
        cmd.push_back(s.options_json);
        e.fn = make_exec_reward(cmd, s.timeout_s, 5, where);
      } else {
        e.fn = make_plugin_reward(std::filesystem::absolute(s.plugin).string(), s.options_json, where);
      }
    } else {
      if (s.name.empty()) throw RewardError(where + ": needs name (a built-in), plugin or exec");
      const BuiltinReward* b = nullptr;
      for (const auto& r : builtin_rewards())
        if (r.name == s.name) b = &r;
      if (!b) {
        std::string names;
        for (const auto& r : builtin_rewards()) names += (names.empty() ? "" : ", ") + r.name;
        throw RewardError(where + ": no built-in reward named '" + s.name + "' (built-ins: " + names + ")");
      }
      RewardOptions o(s.options_json, b->options, where);
      e.name = s.name;
      e.fn = b->make(o);
    }
    for (const auto& other : im.entries)
      if (other.name == e.name) e.name += "_" + std::to_string(i);
    im.names.push_back(e.name);
    im.weights.push_back(e.weight);
    im.entries.push_back(std::move(e));
  }
  return stage;
}

const std::vector<std::string>& RewardStage::names() const { return impl_->names; }
const std::vector<double>& RewardStage::weights() const { return impl_->weights; }

StageResult RewardStage::score(const std::vector<const TaskRef*>& tasks, const std::vector<const CompletionRef*>& completions) {
  Impl& im = *impl_;
  const size_t n = completions.size(), F = im.entries.size();
  StageResult r;
  r.names = im.names;
  r.totals.assign(n, 0.0);
  r.components.assign(F, std::vector<double>(n, 0.0));
  r.infos.assign(F, std::vector<std::string>(n, "{}"));
  r.errors.assign(n, "");
  r.drop.assign(n, false);
  r.error_counts.assign(F, 0);
  std::vector<std::vector<std::string>> errs(F, std::vector<std::string>(n));
  auto record = [&](size_t f, size_t i, RewardValue v) {
    const Entry& e = im.entries[f];
    if (e.truncated_fixed && completions[i]->finish_reason == "length") {
      r.components[f][i] = e.truncated_value;
      return;
    }
    if (v.error.empty() && !std::isfinite(v.value)) v.error = "non-finite reward";
    if (!v.error.empty()) {
      errs[f][i] = v.error;
      r.components[f][i] = e.drop_on_error ? 0.0 : e.error_value;
    } else {
      r.components[f][i] = v.value;
      r.infos[f][i] = v.info_json;
    }
  };
  auto guarded = [](auto&& call) -> std::optional<std::string> {
    try {
      call();
      return std::nullopt;
    } catch (const std::exception& ex) {
      return std::string("threw: ") + ex.what();
    } catch (...) {
      return std::string("threw an unknown exception");
    }
  };
  // Jobs: one per (function, sample), or one per function that scores a whole step at once.
  constexpr size_t kWholeStep = static_cast<size_t>(-1);
  std::vector<std::pair<size_t, size_t>> jobs;
  for (size_t f = 0; f < F; ++f) {
    if (im.entries[f].fn->batched()) jobs.emplace_back(f, kWholeStep);
    else
      for (size_t i = 0; i < n; ++i) jobs.emplace_back(f, i);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t job; (job = next.fetch_add(1)) < jobs.size();) {
      auto [f, i] = jobs[job];
      Entry& e = im.entries[f];
      if (i == kWholeStep) {
        std::vector<RewardValue> vs;
        auto failed = guarded([&] { vs = e.fn->score_batch(tasks, completions); });
        if (!failed && vs.size() != n) failed = "batch returned " + std::to_string(vs.size()) + " values for " + std::to_string(n);
        for (size_t k = 0; k < n; ++k) record(f, k, failed ? RewardValue{0, "{}", *failed} : std::move(vs[k]));
        continue;
      }
      if (e.truncated_fixed && completions[i]->finish_reason == "length") {
        r.components[f][i] = e.truncated_value;
        continue;
      }
      RewardValue v;
      if (auto failed = guarded([&] { v = e.fn->score(*tasks[i], *completions[i]); })) v.error = *failed;
      record(f, i, std::move(v));
    }
  };
  int threads = im.options.threads > 0 ? im.options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), std::max<size_t>(1, jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  for (size_t i = 0; i < n; ++i) {
    for (size_t f = 0; f < F; ++f) {
      r.totals[i] += im.weights[f] * r.components[f][i];
      if (!errs[f][i].empty()) {
        ++r.error_counts[f];
        r.errors[i] += (r.errors[i].empty() ? "" : "; ") + im.names[f] + ": " + errs[f][i];
        if (im.entries[f].drop_on_error) r.drop[i] = true;
        std::string line = "reward " + im.names[f] + " failed on task " + tasks[i]->id + ": " + errs[f][i];
        if (im.options.log) im.options.log(line);
        else std::cerr << "r1: " << line << "\n";
      }
    }
  }
  return r;
}

std::string StageResult::breakdown_json(size_t sample) const {
  std::string s = "{";
  for (size_t f = 0; f < names.size(); ++f) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", components[f][sample]);
    s += (f ? ", " : "") + json_quote(names[f]) + ": " + buf;
  }
  return s + "}";
}

}  // namespace r1::rewards
