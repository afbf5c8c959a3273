// `r1 runs lineage RUN|PIPELINE`: a pipeline's stages as a tree (each stage under the stage whose
// model or data it took), with each one's latest run, status, headline figure and wall time.
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "cli/cli_common.h"
#include "cli/run_views.h"

namespace r1::cli {
namespace {

// The figures that say how a stage went, as "label value, label value" ("kept 5 of 16").
std::string headline(experiments::RunStore& store, const experiments::RunInfo& run) {
  std::string out;
  for (const auto& [label, value] : experiments::stage_headline(store.database(), run.id, run.kind))
    out += (out.empty() || label == "of" ? (out.empty() ? "" : " ") : ", ") + label + " " + format_number(value);
  return out;
}

}  // namespace

void print_lineage(experiments::RunStore& store, int64_t pipeline, bool json) {
  // The latest run of each stage, in the order the stages last ran.
  std::vector<experiments::RunInfo> latest;
  std::map<std::string, int64_t> earlier;  // superseded runs per stage
  for (const auto& r : store.pipeline_runs(pipeline)) {
    auto it = std::find_if(latest.begin(), latest.end(), [&](const auto& l) { return l.stage == r.stage; });
    if (it == latest.end()) latest.push_back(r);
    else {
      ++earlier[r.stage];
      *it = r;
    }
  }
  std::sort(latest.begin(), latest.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  // The tree: each run under its parent when the parent is one of these runs, depth first.
  std::map<int64_t, std::vector<size_t>> children;
  std::vector<size_t> roots;
  std::set<int64_t> ids;
  for (const auto& r : latest) ids.insert(r.id);
  for (size_t i = 0; i < latest.size(); ++i)
    (ids.count(latest[i].parent_run_id) ? children[latest[i].parent_run_id] : roots).push_back(i);
  std::vector<std::pair<size_t, std::string>> order;  // run index, its label with the tree drawn
  std::function<void(size_t, const std::string&, const std::string&)> visit = [&](size_t i, const std::string& lead, const std::string& rest) {
    order.emplace_back(i, lead + latest[i].stage);
    const auto& kids = children[latest[i].id];
    for (size_t k = 0; k < kids.size(); ++k) {
      const bool last_kid = k + 1 == kids.size();
      visit(kids[k], rest + (last_kid ? "└─ " : "├─ "), rest + (last_kid ? "   " : "│  "));
    }
  };
  for (size_t i : roots) visit(i, "", "");
  experiments::ResultSet rs;
  rs.columns = {"stage", "kind", "run", "parent", "status", "from", "headline", "time", "earlier runs"};
  for (const auto& [i, label] : order) {
    const auto& r = latest[i];
    std::map<std::string, std::string> p;
    for (const auto& [k, v] : store.params(r.id)) p[k] = v;
    std::string from;
    for (const char* input : {"model", "teacher", "data"})
      if (auto it = p.find(std::string("pipeline.") + input + "_from"); it != p.end())
        from += (from.empty() ? "" : ", ") + std::string(input) + ": " + it->second;
    const double end = r.ended_at > 0 ? r.ended_at : r.started_at;
    rs.rows.push_back({json ? r.stage : label, r.kind, r.id, r.parent_run_id > 0 ? experiments::Cell(r.parent_run_id) : experiments::Cell(), r.status,
                       from, headline(store, r), format_duration_short(end - r.started_at), static_cast<int64_t>(earlier[r.stage])});
  }
  if (!json) {
    auto info = store.query("SELECT name, path FROM pipelines WHERE id = " + std::to_string(pipeline));
    if (!info.rows.empty())
      std::cout << "pipeline " << experiments::cell_text(info.rows[0][0]) << " (" << experiments::cell_text(info.rows[0][1]) << ")\n";
  }
  print_table(rs, json);
}

void add_lineage_command(CLI::App& runs, Context& ctx) {
  auto target = std::make_shared<std::string>();
  auto* c = runs.add_subcommand("lineage", "A pipeline's stages as a tree: run, status, inputs, headline figure, time");
  c->add_option("target", *target, "a pipeline (name or id), or a run of one")->required();
  c->callback([target, &ctx] {
    auto store = ctx.open_store(/*read_only=*/true);
    // A number is a run first (then a pipeline id); a name is a pipeline first (then a run).
    const bool number = !target->empty() && target->find_first_not_of("0123456789") == std::string::npos;
    std::optional<int64_t> pipeline = number ? std::nullopt : store.find_pipeline(*target);
    if (!pipeline) {
      auto run = store.find_run(*target);
      if (run && run->pipeline_id == 0)
        throw InputError("run " + std::to_string(run->id) + " is not a pipeline stage (see r1 runs show " + std::to_string(run->id) + ")");
      if (run) pipeline = run->pipeline_id;
      else if (number) pipeline = store.find_pipeline(*target);
    }
    if (!pipeline) throw InputError("no pipeline or run '" + *target + "' in " + store.path() + " (see r1 runs ls)");
    print_lineage(store, *pipeline, ctx.json);
  });
}

}  // namespace r1::cli
