// Curves of one run (every metric or chosen ones, x = step or wall time, downsampled to at most
// max_points per series) and the MoE expert-load heat map.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "serve/api_handlers.h"
#include "serve/downsample.h"

namespace r1::serve {
namespace {

struct Series {
  std::vector<double> x, y;
  std::vector<int64_t> step;
};

void sort_by_x(Series& s) {
  std::vector<size_t> idx(s.x.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
  Series sorted;
  for (size_t i : idx) sorted.x.push_back(s.x[i]), sorted.y.push_back(s.y[i]), sorted.step.push_back(s.step[i]);
  s = std::move(sorted);
}

// Shortest round-trip text of a double; JSON has no inf or NaN: null.
void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string metric_series(Database& db, int64_t run_id, const Request& req) {
  const std::string x_axis = req.param_or("x", "step");
  if (x_axis != "step" && x_axis != "wall") throw BadRequest{"x must be step or wall"};
  const size_t max_points = static_cast<size_t>(req.int_param("max_points", 2000, 3, 2000));
  const std::string keys_param = req.param_or("keys", "*");
  const int64_t from_step = req.int_param("from_step", 0, 0, INT64_MAX / 2);
  // The key ids asked for ("*" = all of the run's), resolved once.
  std::map<int64_t, std::string> names;
  if (keys_param == "*") {
    auto st = db.prepare("SELECT id, name FROM metric_keys");
    while (st.step()) names[st.int_at(0)] = st.text_at(1);
  } else {
    std::stringstream in(keys_param);
    std::string key;
    while (std::getline(in, key, ','))
      if (auto id = metric_key_id(db, key)) names[*id] = key;
  }
  auto started = db.prepare("SELECT started_at FROM runs WHERE id = ?");
  started.bind(1, run_id);
  started.step();
  const double t0 = started.double_at(0);
  // One pass over the run's rows in (step, key) order: the primary key's order, no sort.
  auto st = db.prepare("SELECT key_id, step, value, wall_time FROM metric_values WHERE run_id = ? AND step >= ?");
  st.bind(1, run_id).bind(2, from_step);
  std::map<int64_t, Series> by_key;
  const bool wall = x_axis == "wall";
  while (st.step()) {
    const int64_t key = st.int_at(0);
    if (!names.count(key) || st.is_null(2)) continue;
    Series& s = by_key[key];
    const int64_t step = st.int_at(1);
    s.x.push_back(wall ? st.double_at(3) - t0 : static_cast<double>(step));
    s.y.push_back(st.double_at(2));
    s.step.push_back(step);
  }
  std::vector<std::pair<std::string, Series*>> ordered;
  for (auto& [id, s] : by_key) ordered.emplace_back(names[id], &s);
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Written directly rather than through a JSON tree: 40 curves of 2,000 points are 80,000 small
  // arrays, and building them as nodes took most of the endpoint's time.
  std::string out = "{\"run_id\":" + std::to_string(run_id) + ",\"x\":" + Json(x_axis).dump() +
                    ",\"max_points\":" + std::to_string(max_points) + ",\"series\":[";
  for (size_t k = 0; k < ordered.size(); ++k) {
    auto& [name, s] = ordered[k];
    if (wall) sort_by_x(*s);  // wall time is not always monotone across a resume
    std::vector<size_t> keep = lttb(s->x, s->y, max_points);
    const bool down = keep.size() < s->x.size();
    out += k ? ",{" : "{";
    out += "\"key\":" + Json(name).dump(-1, ' ', false, Json::error_handler_t::replace) + ",\"n\":" + std::to_string(s->x.size()) +
           ",\"downsampled\":" + (down ? "true" : "false") + ",\"method\":\"" + (down ? "lttb" : "none") + "\",\"last_step\":" +
           (s->step.empty() ? std::string("null") : std::to_string(s->step.back())) + ",\"points\":[";
    for (size_t j = 0; j < keep.size(); ++j) {
      out += j ? ",[" : "[";
      append_number(out, s->x[keep[j]]);
      out += ',';
      append_number(out, s->y[keep[j]]);
      out += ']';
    }
    out += "]}";
  }
  return out + "]}";
}

// Expert load of MoE runs: metrics named moe/load/l<layer>/e<expert> (each expert's share of its
// layer's routed tokens over a step), as a layer x expert matrix at one step.
Json expert_load(Database& db, int64_t run_id, const Request& req) {
  static const std::regex name_re(R"(moe/load/l(\d+)/e(\d+))");
  std::map<int64_t, std::pair<int, int>> cell_of;  // key id -> (layer, expert)
  int layers = 0, experts = 0;
  auto k = db.prepare("SELECT id, name FROM metric_keys WHERE name LIKE 'moe/load/l%'");
  while (k.step()) {
    std::smatch m;
    std::string name = k.text_at(1);
    if (!std::regex_match(name, m, name_re)) continue;
    int l = std::stoi(m[1]), e = std::stoi(m[2]);
    cell_of[k.int_at(0)] = {l, e};
    layers = std::max(layers, l + 1);
    experts = std::max(experts, e + 1);
  }
  Json out = {{"run_id", run_id}, {"layers", 0}, {"experts", 0}, {"steps", Json::array()}, {"step", nullptr}, {"load", Json::array()}};
  if (cell_of.empty()) return out;
  std::string ids;
  for (const auto& [id, le] : cell_of) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id);
  }
  // The steps that have loads (at most 500 of them, evenly spaced, for the slider).
  std::vector<int64_t> steps;
  auto s = db.prepare("SELECT DISTINCT step FROM metric_values WHERE run_id = ? AND key_id IN (" + ids + ") ORDER BY step");
  s.bind(1, run_id);
  while (s.step()) steps.push_back(s.int_at(0));
  if (steps.empty()) return out;
  int64_t step = req.int_param("step", steps.back(), 0, INT64_MAX / 2);
  auto at = std::lower_bound(steps.begin(), steps.end(), step);
  step = at == steps.end() ? steps.back() : *at;
  std::vector<int64_t> shown;
  const size_t stride = std::max<size_t>(1, steps.size() / 500);
  for (size_t i = 0; i < steps.size(); i += stride) shown.push_back(steps[i]);
  if (shown.back() != steps.back()) shown.push_back(steps.back());
  std::vector<std::vector<Json>> load(static_cast<size_t>(layers), std::vector<Json>(static_cast<size_t>(experts), nullptr));
  auto v = db.prepare("SELECT key_id, value FROM metric_values WHERE run_id = ? AND step = ? AND key_id IN (" + ids + ")");
  v.bind(1, run_id).bind(2, step);
  while (v.step()) {
    auto [l, e] = cell_of[v.int_at(0)];
    load[static_cast<size_t>(l)][static_cast<size_t>(e)] = cell_json(v.cell_at(1));
  }
  out["layers"] = layers;
  out["experts"] = experts;
  out["steps"] = shown;
  out["step"] = step;
  out["load"] = load;
  return out;
}

}  // namespace r1::serve
