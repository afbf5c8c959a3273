// `r1 runs ls|show|compare|export`: reading the store.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "cli/cli_common.h"
#include "cli/run_views.h"

namespace r1::cli {
namespace {

using experiments::Cell;
using experiments::ResultSet;

double duration_of(const experiments::RunInfo& r) {
  double end = r.ended_at > 0 ? r.ended_at : experiments::unix_now();
  return end - r.started_at;
}

void add_ls(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string status, kind;
    std::vector<std::string> tags, where;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("ls", "List runs with their key metrics");
  c->add_option("--status", a->status, "running | finished | failed | crashed | interrupted");
  c->add_option("--kind", a->kind, "run kind (train, pretrain, eval, external, ...)");
  c->add_option("--tag", a->tags, "only runs with this tag (repeatable)");
  c->add_option("--where", a->where, "config filter key=value, e.g. rl.beta=0.001 (repeatable)");
  c->callback([a, &ctx] {
    experiments::RunFilter f;
    if (!a->status.empty()) {
      if (!experiments::parse_run_status(a->status))
        throw InputError("--status " + a->status + ": expected running | finished | failed | crashed | interrupted");
      f.status = a->status;
    }
    if (!a->kind.empty()) f.kind = a->kind;
    f.tags = a->tags;
    for (const auto& w : a->where) {
      size_t eq = w.find('=');
      if (eq == std::string::npos || eq == 0) throw InputError("--where " + w + ": expected key=value, e.g. rl.beta=0.001");
      f.params.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    auto store = ctx.open_store(false, false);
    auto list = store.list_runs(f);
    ResultSet rs;
    rs.columns = {"id", "name", "kind", "status", "step", "reward", "accuracy", "eval_pass@1", "started", "duration", "tags"};
    for (const auto& r : list) {
      const auto h = store.headline(r.id);
      std::string tags;
      for (const auto& t : r.tags) tags += (tags.empty() ? "" : ",") + t;
      rs.rows.push_back({r.id, r.name, r.kind, r.status, h.step, h.reward, h.accuracy, h.eval_pass1, format_time(r.started_at),
                         format_duration_short(duration_of(r)), tags});
    }
    print_table(rs, ctx.json);
  });
}

void add_show(CLI::App& runs, Context& ctx) {
  auto run_arg = std::make_shared<std::string>();
  auto* c = runs.add_subcommand("show", "Show a run: config, status, durations, metrics with sparklines");
  c->add_option("run", *run_arg, "run id or name")->required();
  c->callback([run_arg, &ctx] {
    auto store = ctx.open_store(false, false);
    auto r = resolve_run(store, *run_arg);
    auto params = store.params(r.id);
    auto metrics = summarize_metrics(store, r.id);
    auto ckpts = store.checkpoints(r.id);
    ResultSet evals = [&] {
      ResultSet e;
      e.columns = {"step", "dataset", "metric", "value", "n"};
      for (const auto& ev : store.evals(r.id)) e.rows.push_back({ev.step, ev.dataset, ev.metric, ev.value, ev.n});
      return e;
    }();
    if (ctx.json) {
      nlohmann::json j;
      j["id"] = r.id;
      j["name"] = r.name;
      j["kind"] = r.kind;
      j["status"] = r.status;
      j["seed"] = r.seed;
      j["git_commit"] = r.git_commit;
      j["host"] = r.host;
      j["pid"] = r.pid;
      j["started_at"] = r.started_at;
      j["ended_at"] = r.ended_at > 0 ? nlohmann::json(r.ended_at) : nlohmann::json();
      j["duration_s"] = duration_of(r);
      j["tags"] = r.tags;
      j["notes"] = r.notes;
      for (const auto& [k, v] : params) j["config"][k] = v;
      for (const auto& m : metrics)
        j["metrics"][m.key] = {{"n", m.n}, {"last", m.last}, {"last_step", m.last_step}, {"best", m.best},
                               {"best_step", m.best_step}, {"min", m.min}, {"max", m.max}};
      for (const auto& ck : ckpts) j["checkpoints"].push_back({{"step", ck.step}, {"path", ck.path}, {"sha256", ck.sha256}, {"bytes", ck.bytes}});
      for (const auto& row : evals.rows)
        j["evals"].push_back({{"step", std::get<int64_t>(row[0])}, {"dataset", experiments::cell_text(row[1])},
                              {"metric", experiments::cell_text(row[2])}, {"value", std::get_if<double>(&row[3]) ? std::get<double>(row[3]) : 0.0},
                              {"n", std::get_if<int64_t>(&row[4]) ? std::get<int64_t>(row[4]) : 0}});
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "run " << r.id << "  " << r.name << "  (" << r.kind << ")  " << r.status << "\n";
    std::cout << "started " << format_time(r.started_at);
    if (r.ended_at > 0) std::cout << "   ended " << format_time(r.ended_at);
    std::cout << "   duration " << format_duration_short(duration_of(r)) << "\n";
    std::cout << "seed " << r.seed << "   git " << r.git_commit << "   host " << r.host << "   pid " << r.pid << "\n";
    if (!r.tags.empty()) {
      std::cout << "tags";
      for (const auto& t : r.tags) std::cout << " " << t;
      std::cout << "\n";
    }
    if (!r.notes.empty()) std::cout << "notes: " << r.notes << "\n";
    if (!params.empty()) {
      std::cout << "\nconfig\n";
      for (const auto& [k, v] : params) std::cout << "  " << k << " = " << v << "\n";
    }
    if (!metrics.empty()) {
      std::cout << "\nmetrics\n";
      ResultSet rs;
      rs.columns = {"key", "n", "last_step", "last", "best", "min", "max", "trend"};
      for (const auto& m : metrics)
        rs.rows.push_back({m.key, static_cast<int64_t>(m.n), m.last_step, m.last, m.best, m.min, m.max, sparkline(m.values)});
      print_table(rs, false);
    }
    if (!ckpts.empty()) {
      std::cout << "\ncheckpoints\n";
      ResultSet rs;
      rs.columns = {"step", "path", "bytes", "sha256"};
      for (const auto& ck : ckpts) rs.rows.push_back({ck.step, ck.path, ck.bytes, ck.sha256.substr(0, 16)});
      print_table(rs, false);
    }
    if (!evals.rows.empty()) {
      std::cout << "\nevals\n";
      print_table(evals, false);
    }
  });
}

void add_compare(CLI::App& runs, Context& ctx) {
  struct Args {
    std::vector<std::string> runs, metrics;
    int64_t at_step = -1;
    bool last = false, best = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("compare", "Metrics of several runs side by side, and the config keys that differ");
  c->add_option("runs", a->runs, "run ids or names")->required()->expected(1, -1);
  c->add_option("--metric", a->metrics, "metric key to show (repeatable; default: all)");
  auto* at = c->add_option("--at-step", a->at_step, "value at this step (or the last one before it)");
  auto* last = c->add_flag("--last", a->last, "last value (default)");
  auto* best = c->add_flag("--best", a->best, "best value (max, or min for losses/KL/times/lengths)");
  at->excludes(last)->excludes(best);
  last->excludes(best);
  c->callback([a, &ctx] {
    auto store = ctx.open_store(false, false);
    std::vector<experiments::RunInfo> list;
    for (const auto& r : a->runs) list.push_back(resolve_run(store, r));
    std::set<std::string> keys(a->metrics.begin(), a->metrics.end());
    std::vector<std::map<std::string, std::vector<experiments::MetricPoint>>> all;
    for (const auto& r : list) all.push_back(store.metric_series_all(r.id));
    if (keys.empty())
      for (const auto& m : all)
        for (const auto& [k, series] : m) keys.insert(k);
    ResultSet rs;
    rs.columns.push_back("metric");
    for (const auto& r : list) rs.columns.push_back(std::to_string(r.id) + ":" + r.name);
    for (const auto& key : keys) {
      std::vector<Cell> row{key};
      for (size_t ri = 0; ri < list.size(); ++ri) {
        auto found = all[ri].find(key);
        if (found == all[ri].end()) {
          row.emplace_back();
          continue;
        }
        const auto& series = found->second;
        Cell v;
        if (!series.empty()) {
          if (a->best) {
            bool up = higher_is_better(key);
            double b = series.front().value;
            for (const auto& p : series) b = up ? std::max(b, p.value) : std::min(b, p.value);
            v = b;
          } else if (a->at_step >= 0) {
            for (const auto& p : series)
              if (p.step <= a->at_step) v = p.value;
          } else {
            v = series.back().value;
          }
        }
        row.push_back(v);
      }
      rs.rows.push_back(std::move(row));
    }
    // Config keys whose values differ between the runs (missing counts as different).
    std::vector<std::map<std::string, std::string>> configs;
    std::set<std::string> all_keys;
    for (const auto& r : list) {
      std::map<std::string, std::string> m;
      for (const auto& [k, v] : store.params(r.id)) {
        m[k] = v;
        all_keys.insert(k);
      }
      configs.push_back(std::move(m));
    }
    ResultSet diff;
    diff.columns = rs.columns;
    diff.columns[0] = "config";
    for (const auto& k : all_keys) {
      bool same = true;
      for (size_t i = 1; i < configs.size(); ++i) {
        auto a0 = configs[0].find(k), ai = configs[i].find(k);
        bool p0 = a0 != configs[0].end(), pi = ai != configs[i].end();
        if (p0 != pi || (p0 && a0->second != ai->second)) same = false;
      }
      if (same) continue;
      std::vector<Cell> row{k};
      for (const auto& m : configs) {
        auto it = m.find(k);
        row.push_back(it == m.end() ? Cell{} : Cell{it->second});
      }
      diff.rows.push_back(std::move(row));
    }
    if (ctx.json) {
      nlohmann::json j;
      for (size_t i = 0; i < list.size(); ++i) {
        nlohmann::json r;
        r["id"] = list[i].id;
        r["name"] = list[i].name;
        for (const auto& row : rs.rows) {
          const Cell& v = row[i + 1];
          r["metrics"][std::get<std::string>(row[0])] = std::get_if<double>(&v) ? nlohmann::json(std::get<double>(v)) : nlohmann::json();
        }
        for (const auto& row : diff.rows) r["config_diff"][std::get<std::string>(row[0])] = experiments::cell_text(row[i + 1]);
        j["runs"].push_back(r);
      }
      std::cout << j.dump(2) << "\n";
      return;
    }
    print_table(rs, false);
    if (!diff.rows.empty()) {
      std::cout << "\n";
      print_table(diff, false);
    } else if (list.size() > 1) {
      std::cout << "\n(no config differences)\n";
    }
  });
}

void add_export(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string run, format = "csv", table = "metrics", output;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("export", "Export a run's metrics, samples or evals as CSV or JSON Lines");
  c->add_option("run", a->run, "run id or name")->required();
  c->add_option("--format", a->format, "csv | jsonl")->check(CLI::IsMember({"csv", "jsonl"}));
  c->add_option("--table", a->table, "metrics | samples | evals")->check(CLI::IsMember({"metrics", "samples", "evals"}));
  c->add_option("--output,-o", a->output, "file to write (default: standard output)");
  c->callback([a, &ctx] {
    auto store = ctx.open_store(false, false);
    auto r = resolve_run(store, a->run);
    auto st = store.export_rows(r.id, a->table);
    std::string tmp;
    std::ofstream file;
    if (!a->output.empty()) {
      tmp = a->output + ".tmp";
      file.open(tmp, std::ios::binary);
      if (!file) throw InputError(a->output + ": cannot write");
    }
    std::ostream& out = a->output.empty() ? std::cout : file;
    auto csv_field = [](const std::string& s) {
      if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q + "\"";
    };
    bool header = true;
    while (st.step()) {
      if (a->format == "csv") {
        if (header) {
          for (int i = 0; i < st.columns(); ++i) out << (i ? "," : "") << st.column_name(i);
          out << "\n";
          header = false;
        }
        for (int i = 0; i < st.columns(); ++i) out << (i ? "," : "") << csv_field(experiments::cell_text(st.cell_at(i)));
        out << "\n";
      } else {
        nlohmann::json j;
        for (int i = 0; i < st.columns(); ++i) {
          Cell cell = st.cell_at(i);
          if (auto* iv = std::get_if<int64_t>(&cell)) j[st.column_name(i)] = *iv;
          else if (auto* dv = std::get_if<double>(&cell)) j[st.column_name(i)] = *dv;
          else if (auto* sv = std::get_if<std::string>(&cell)) j[st.column_name(i)] = *sv;
          else j[st.column_name(i)] = nullptr;
        }
        if (a->table == "samples" && j["reward_breakdown"].is_string()) {
          auto parsed = nlohmann::json::parse(j["reward_breakdown"].get<std::string>(), nullptr, false);
          if (!parsed.is_discarded()) j["reward_breakdown"] = parsed;
        }
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    }
    if (a->format == "csv" && header) {
      for (int i = 0; i < st.columns(); ++i) out << (i ? "," : "") << st.column_name(i);
      out << "\n";
    }
    if (!a->output.empty()) {
      file.close();
      if (!file) throw JobError(a->output + ": write failed");
      std::filesystem::rename(tmp, a->output);
    }
  });
}

}  // namespace

void add_runs_view_commands(CLI::App& runs, Context& ctx) {
  add_ls(runs, ctx);
  add_show(runs, ctx);
  add_compare(runs, ctx);
  add_export(runs, ctx);
}

}  // namespace r1::cli
