// A run's completions: paged and filtered (step, reward range of the total or of one reward
// component, finish reason, text), the steps that have samples, and a reward histogram per step.
#include <algorithm>
#include <cmath>

#include "serve/api_handlers.h"

namespace r1::serve {
namespace {

struct SampleQuery {
  std::string where = "run_id = ?";
  std::vector<experiments::Cell> binds;
};

// The value a reward range applies to: the total reward, or one component of the breakdown.
std::string reward_expr(const Request& req, SampleQuery& q) {
  auto component = req.param("component");
  if (!component || component->empty()) return "reward";
  if (component->find_first_of("\"\\") != std::string::npos) throw BadRequest{"component must not contain quotes"};
  q.binds.emplace_back("$.\"" + *component + "\"");
  return "json_extract(reward_breakdown, ?)";
}

SampleQuery sample_filter(int64_t run_id, const Request& req) {
  SampleQuery q;
  q.binds.emplace_back(run_id);
  if (req.param("step") && !req.param("step")->empty()) {
    q.where += " AND step = ?";
    q.binds.emplace_back(req.int_param("step", 0, 0, INT64_MAX / 2));
  }
  auto lo = req.double_param("min_reward"), hi = req.double_param("max_reward");
  if (req.param("component") && !req.param("component")->empty()) {
    SampleQuery probe;
    std::string expr = reward_expr(req, probe);
    q.where += " AND " + expr + " IS NOT NULL";
    q.binds.push_back(probe.binds.back());
  }
  for (auto [bound, op] : {std::pair{lo, ">="}, std::pair{hi, "<="}}) {
    if (!bound) continue;
    SampleQuery probe;
    std::string expr = reward_expr(req, probe);
    q.where += " AND " + expr + " " + op + " ?";
    for (auto& b : probe.binds) q.binds.push_back(b);
    q.binds.emplace_back(*bound);
  }
  if (auto finish = req.param("finish"); finish && !finish->empty()) {
    q.where += " AND finish_reason = ?";
    q.binds.emplace_back(*finish);
  }
  if (auto text = req.param("q"); text && !text->empty()) {
    // instr() rather than LIKE: the text is matched literally, % and _ included.
    q.where += " AND (instr(completion, ?) > 0 OR instr(prompt, ?) > 0)";
    q.binds.emplace_back(*text);
    q.binds.emplace_back(*text);
  }
  return q;
}


}  // namespace

Json samples_page(Database& db, int64_t run_id, const Request& req) {
  const int64_t limit = req.int_param("limit", 20, 1, 200), offset = req.int_param("offset", 0, 0, 1'000'000'000);
  SampleQuery q = sample_filter(run_id, req);
  auto count = db.prepare("SELECT COUNT(*) FROM samples WHERE " + q.where);
  bind_all(count, q.binds);
  count.step();
  auto st = db.prepare(
      "SELECT id, step, task_id, prompt, completion, reward, reward_breakdown, finish_reason, prompt_tokens, "
      "completion_tokens, weight_version, reference FROM samples WHERE " + q.where + " ORDER BY step, id LIMIT ? OFFSET ?");
  bind_all(st, q.binds);
  st.bind(static_cast<int>(q.binds.size()) + 1, limit).bind(static_cast<int>(q.binds.size()) + 2, offset);
  Json rows = Json::array();
  while (st.step()) {
    Json breakdown = Json::parse(st.text_at(6), nullptr, /*allow_exceptions=*/false);
    if (breakdown.is_discarded()) breakdown = st.text_at(6);
    rows.push_back({{"id", st.int_at(0)},
                    {"step", st.int_at(1)},
                    {"task_id", st.text_at(2)},
                    {"prompt", st.text_at(3)},
                    {"completion", st.text_at(4)},
                    {"reward", cell_json(st.cell_at(5))},
                    {"breakdown", breakdown},
                    {"finish_reason", st.text_at(7)},
                    {"prompt_tokens", cell_json(st.cell_at(8))},
                    {"completion_tokens", cell_json(st.cell_at(9))},
                    {"weight_version", cell_json(st.cell_at(10))},
                    {"reference", cell_json(st.cell_at(11))}});
  }
  return {{"total", count.int_at(0)}, {"offset", offset}, {"limit", limit}, {"rows", rows}};
}

Json sample_steps(Database& db, int64_t run_id) {
  auto st = db.prepare(
      "SELECT step, COUNT(*), AVG(reward), group_concat(DISTINCT finish_reason) FROM samples WHERE run_id = ? GROUP BY step ORDER BY step");
  st.bind(1, run_id);
  Json steps = Json::array();
  while (st.step())
    steps.push_back({{"step", st.int_at(0)}, {"n", st.int_at(1)}, {"mean_reward", cell_json(st.cell_at(2))}, {"finish", st.text_at(3)}});
  // The reward components present (from the latest step's breakdowns).
  auto c = db.prepare(
      "SELECT DISTINCT j.key FROM samples s, json_each(s.reward_breakdown) j WHERE s.run_id = ?1 AND json_valid(s.reward_breakdown) "
      "AND s.step = (SELECT MAX(step) FROM samples WHERE run_id = ?1) ORDER BY j.key");
  c.bind(1, run_id);
  Json components = Json::array();
  while (c.step()) components.push_back(c.text_at(0));
  return {{"steps", steps}, {"components", components}};
}

Json reward_histogram(Database& db, int64_t run_id, const Request& req) {
  const int64_t bins = req.int_param("bins", 20, 1, 200);
  SampleQuery q = sample_filter(run_id, req);
  SampleQuery probe;
  std::string expr = reward_expr(req, probe);
  std::vector<experiments::Cell> binds = probe.binds;
  binds.insert(binds.end(), q.binds.begin(), q.binds.end());
  auto st = db.prepare("SELECT " + expr + " FROM samples WHERE " + q.where);
  bind_all(st, binds);
  std::vector<double> v;
  while (st.step())
    if (!st.is_null(0)) v.push_back(st.double_at(0));
  Json out = {{"n", v.size()}, {"edges", Json::array()}, {"counts", Json::array()}};
  if (v.empty()) return out;
  auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double lo = *mn, hi = *mx;
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  for (double x : v) {
    auto b = static_cast<int64_t>(std::floor((x - lo) / (hi - lo) * static_cast<double>(bins)));
    ++counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))];
  }
  Json edges = Json::array();
  for (int64_t i = 0; i <= bins; ++i) edges.push_back(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(bins));
  out["edges"] = edges;
  out["counts"] = counts;
  out["mean"] = [&] { double s = 0; for (double x : v) s += x; return s / static_cast<double>(v.size()); }();
  return out;
}

}  // namespace r1::serve
