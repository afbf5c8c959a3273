// bench_serve: `r1 serve` on a large store. Builds a store with 1,000,000 metric rows (ten RL runs
// of 40 metrics x 2,000 steps, and one pretraining run of 2 metrics x 100,000 steps) and 100,000
// samples, starts the server in this process on loopback, and reports:
//   - the time of each endpoint (median and p95 of repeated requests from one client);
//   - requests/s of a mixed page load from 8 concurrent keep-alive clients, against the same
//     clients fetching a static asset (the HTTP layer's own ceiling), in the same run.
#include <utility>  // before Boost 1.74 Asio (std::exchange)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "experiments/run_store.h"
#include "serve/server.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

// One keep-alive connection; get() returns the status.
class Client {
 public:
  explicit Client(int port) : stream_(ioc_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  int get(const std::string& target, size_t* bytes = nullptr) {
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(stream_, buffer_, parser);
    if (bytes) *bytes = parser.get().body().size();
    return static_cast<int>(parser.get().result_int());
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct Store {
  std::vector<int64_t> rl_runs;
  int64_t long_run = 0;
};

Store build_store(const std::string& path) {
  using namespace r1::experiments;
  RunStore store = RunStore::open(path);
  Store out;
  std::vector<std::string> keys;
  for (int k = 0; k < 40; ++k) keys.push_back(k == 0 ? "reward" : k == 1 ? "accuracy" : "metric/" + std::to_string(k));
  std::string filler(400, 'x');
  for (int r = 0; r < 10; ++r) {
    NewRun run;
    run.name = "rl-" + std::to_string(r);
    run.kind = "grpo";
    run.params = {{"rl.beta", r % 2 ? "0.001" : "0.01"}, {"rl.lr", "1e-6"}, {"run.seed", std::to_string(r)}};
    for (int p = 0; p < 60; ++p) run.params.emplace_back("extra.key" + std::to_string(p), std::to_string(p * r));
    int64_t id = store.create_run(run);
    out.rl_runs.push_back(id);
    std::vector<std::pair<std::string, double>> m(keys.size());
    for (int64_t s = 0; s < 2000; ++s) {
      for (size_t k = 0; k < keys.size(); ++k) m[k] = {keys[k], std::sin(0.001 * static_cast<double>(s * (k + 1))) + r};
      store.log_metrics(id, s, m);
    }
    for (int i = 0; i < 10000; ++i) {
      SampleRecord smp;
      smp.step = i / 5;
      smp.task_id = "task/" + std::to_string(i % 500);
      smp.prompt = "What is " + std::to_string(i) + " + " + std::to_string(r) + "?";
      smp.reference = std::to_string(i + r);
      smp.completion = "<think>" + filler + "</think><answer>" + std::to_string(i + r) + "</answer>";
      smp.reward = (i % 3) ? 1.0 : 0.0;
      smp.reward_breakdown_json = (i % 3) ? R"({"accuracy": 1, "format": 1})" : R"({"accuracy": 0, "format": 1})";
      smp.finish_reason = "eos";
      smp.completion_tokens = 120;
      store.log_sample(id, smp);
    }
    store.finish_run(id, RunStatus::finished);
  }
  NewRun pre;
  pre.name = "pretrain-long";
  pre.kind = "pretrain";
  out.long_run = store.create_run(pre);
  for (int64_t s = 0; s < 100000; ++s)
    store.log_metrics(out.long_run, s, {{"loss", 3.0 * std::exp(-static_cast<double>(s) / 20000.0)}, {"lr", 1e-4}});
  store.finish_run(out.long_run, RunStatus::finished);
  return out;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Requests/s of `targets` (cycled) from `clients` keep-alive connections for `seconds`.
double throughput(int port, const std::vector<std::string>& targets, int clients, double seconds, int& failures) {
  std::atomic<long> done{0}, bad{0};
  std::vector<std::thread> threads;
  const double t0 = r1::bench::now_s();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      Client cl(port);
      size_t i = static_cast<size_t>(c);
      while (r1::bench::now_s() - t0 < seconds) {
        if (cl.get(targets[i++ % targets.size()]) != 200) ++bad;
        ++done;
      }
    });
  for (auto& t : threads) t.join();
  failures += static_cast<int>(bad.load());
  return static_cast<double>(done.load()) / (r1::bench::now_s() - t0);
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("bench_serve-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "store.db").string();
  double t0 = r1::bench::now_s();
  Store s = build_store(db);
  const double build_s = r1::bench::now_s() - t0;
  auto rows = r1::experiments::RunStore::open(db).query("SELECT (SELECT COUNT(*) FROM metric_values), (SELECT COUNT(*) FROM samples)");
  std::printf("store: %s metric rows, %s samples, %.1f MB, built in %.1f s\n", r1::experiments::cell_text(rows.rows[0][0]).c_str(),
              r1::experiments::cell_text(rows.rows[0][1]).c_str(), static_cast<double>(fs::file_size(db)) / 1e6, build_s);

  r1::serve::ServeOptions o;
  o.db_path = db;
  o.port = 0;
  o.workers = 2;
  r1::serve::Server server(o);
  std::thread th([&] { server.run(); });
  const int port = server.port();
  const std::string rl = std::to_string(s.rl_runs[3]), rl2 = std::to_string(s.rl_runs[4]), lr = std::to_string(s.long_run);
  struct Endpoint {
    const char* name;
    std::string target;
  };
  std::vector<Endpoint> endpoints = {
      {"runs (page of 50, 3 metric columns)", "/api/runs"},
      {"runs filtered + sorted by metric", "/api/runs?q=rl.beta%3D0.001&sort=metric:reward"},
      {"run detail (60+ params, 40 keys)", "/api/runs/" + rl},
      {"run curves, all 40 x 2k points", "/api/runs/" + rl + "/metrics"},
      {"curve of 100k points -> 2k (LTTB)", "/api/runs/" + lr + "/metrics?keys=loss"},
      {"curves by wall time, 100k-step run", "/api/runs/" + lr + "/metrics?x=wall"},
      {"samples of a step", "/api/runs/" + rl + "/samples?step=1000"},
      {"samples, text search (10k)", "/api/runs/" + rl + "/samples?q=1234"},
      {"samples, component filter", "/api/runs/" + rl + "/samples?component=accuracy&max_reward=0.5"},
      {"sample steps (2k steps)", "/api/runs/" + rl + "/sample_steps"},
      {"reward histogram of a step", "/api/runs/" + rl + "/histogram?step=1000"},
      {"compare two runs", "/api/compare?runs=" + rl + "," + rl2},
      {"keys of the store", "/api/keys"},
      {"SQL: COUNT(*) of samples", "/api/sql?sql=SELECT%20COUNT(*)%20FROM%20samples"},
      {"static: app.js", "/app.js"},
  };
  Client client(port);
  // The very first runs page, while the server's warm-up is still reading every run's summary.
  double first = r1::bench::now_s();
  if (client.get("/api/runs") != 200) std::printf("first /api/runs failed\n");
  const double first_ms = (r1::bench::now_s() - first) * 1e3;
  std::printf("first /api/runs after start (cold: summaries of the page's runs read from the store): %.1f ms\n", first_ms);
  std::printf("\n%-38s %10s %10s %10s\n", "endpoint", "median ms", "p95 ms", "bytes");
  double worst = 0;
  int failures = 0;
  for (const auto& e : endpoints) {
    std::vector<double> ms;
    size_t bytes = 0;
    for (int i = 0; i < 15; ++i) {
      double a = r1::bench::now_s();
      if (client.get(e.target, &bytes) != 200) ++failures;
      ms.push_back((r1::bench::now_s() - a) * 1e3);
    }
    double med = percentile(ms, 0.5), p95 = percentile(ms, 0.95);
    if (e.target.rfind("/api/", 0) == 0) worst = std::max(worst, med);
    std::printf("%-38s %10.2f %10.2f %10zu\n", e.name, med, p95, bytes);
  }
  std::vector<std::string> mix = {"/api/runs", "/api/runs/" + rl, "/api/runs/" + rl + "/metrics?keys=reward,accuracy",
                                  "/api/runs/" + rl + "/samples?step=500", "/api/runs/" + rl + "/sample_steps"};
  double mixed = throughput(port, mix, 8, 3.0, failures);
  double statics = throughput(port, {"/app.js", "/app.css"}, 8, 3.0, failures);
  std::printf("\n8 concurrent keep-alive clients, 3 s each:\n  mixed page requests  %8.0f req/s\n  static assets        %8.0f req/s\n",
              mixed, statics);
  server.stop();
  th.join();
  fs::remove_all(dir);
  std::printf(
      "RESULT worst_endpoint_median_ms=%.2f first_runs_page_ms=%.1f mixed_req_per_s=%.0f static_req_per_s=%.0f mixed_vs_static=%.3f "
      "failures=%d\n",
      worst, first_ms, mixed, statics, mixed / statics, failures);
  return failures == 0 ? 0 : 1;
}
