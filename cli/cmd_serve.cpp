// `r1 serve`: the run store as a live dashboard in the browser (serve/).
#include <cstdlib>
#include <iostream>

#include "cli/cli_common.h"
#include "serve/server.h"

namespace r1::cli {

void add_serve_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<serve::ServeOptions>();
  auto* c = app.add_subcommand("serve", "Serve a live dashboard of the run store (runs, curves, samples, lineage, SQL)");
  c->add_option("--host", opt->host, "address to listen on; anything but loopback requires --token")->capture_default_str();
  c->add_option("--port", opt->port, "port (0: any free port, printed)")->capture_default_str()->check(CLI::Range(0, 65535));
  c->add_option("--token", opt->token, "a shared secret: requests send 'Authorization: Bearer TOKEN' or open /?token=TOKEN once (default $R1_SERVE_TOKEN)");
  c->add_option("--workers", opt->workers, "threads answering queries")->capture_default_str()->check(CLI::Range(1, 64));
  c->add_option("--sql-time-limit-ms", opt->sql_time_limit_ms, "the SQL box's time limit per query")->capture_default_str()->check(CLI::Range(10, 600000));
  c->add_option("--sql-row-limit", opt->sql_row_limit, "the SQL box's most rows per query")->capture_default_str()->check(CLI::Range(1, 1000000));
  c->footer("Pages: runs, run (curves, recipe, checkpoints, evals), samples, compare, lineage, SQL.\n"
            "Every JSON endpoint is under /api/ (see the README).");
  c->callback([opt, &ctx] {
    serve::ServeOptions o = *opt;
    o.db_path = ctx.db_path;
    if (o.token.empty())
      if (const char* t = std::getenv("R1_SERVE_TOKEN")) o.token = t;
    o.handle_signals = true;
    std::unique_ptr<serve::Server> server;
    try {
      server = std::make_unique<serve::Server>(o);
    } catch (const serve::ServeError& e) {
      throw InputError(e.what());
    }
    const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    std::cout << "r1 serve: http://" << host << ":" << server->port() << "/  (store " << o.db_path
              << (o.token.empty() ? "" : ", token required") << "; Ctrl-C stops)" << std::endl;
    server->run();
    if (!ctx.quiet) std::cerr << "r1 serve: stopped\n";
  });
}

}  // namespace r1::cli
