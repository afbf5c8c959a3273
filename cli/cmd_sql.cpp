// `r1 sql "SELECT ..."`: any read-only query against the store (views: latest_metrics,
// metric_summary, params_pivot, run_overview).
#include "cli/cli_common.h"

namespace r1::cli {

void add_sql_command(CLI::App& app, Context& ctx) {
  auto query = std::make_shared<std::string>();
  auto* c = app.add_subcommand("sql", "Run a read-only SQL query against the run store");
  c->add_option("query", *query, "one SQL statement, e.g. \"SELECT * FROM latest_metrics\"")->required();
  c->footer(
      "Tables: runs, params, metrics, samples, checkpoints, evals, tags.\n"
      "Views: latest_metrics, metric_summary, params_pivot, run_overview.");
  c->callback([query, &ctx] {
    auto store = ctx.open_store(/*read_only=*/true, /*create=*/false);
    experiments::ResultSet rs;
    try {
      rs = store.query(*query);
    } catch (const experiments::ExperimentsError& e) {
      throw InputError(e.what());
    }
    print_table(rs, ctx.json);
  });
}

}  // namespace r1::cli
