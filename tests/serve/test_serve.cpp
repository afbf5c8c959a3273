// r1 serve over HTTP: every endpoint, paging, downsampling, the live stream, the token, the SQL
// box's guard, path traversal and malformed or slow clients. The server runs in this process on a
// free loopback port; requests go through real sockets.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "serve/downsample.h"
#include "serve/http_types.h"
#include "serve/server.h"
#include "tests/serve/serve_client.h"
#include "tests/serve/store_fixture.h"
#include "tests/test_util.h"

using nlohmann::json;
using namespace r1;
using r1::test::http_get;
using r1::test::http_request;

namespace {

struct RunningServer {
  std::unique_ptr<serve::Server> server;
  std::thread thread;
  int port = 0;
  explicit RunningServer(serve::ServeOptions o) {
    o.port = 0;
    server = std::make_unique<serve::Server>(o);
    port = server->port();
    thread = std::thread([this] { server->run(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
  }
};

struct Fixture {
  test::TempDir dir;
  std::string db = dir / "runs.db";
  test::DashboardRuns ids = test::write_dashboard_store(db);
  serve::ServeOptions options() const {
    serve::ServeOptions o;
    o.db_path = db;
    o.request_timeout_ms = 1000;
    o.live_poll_ms = 100;
    o.sql_time_limit_ms = 300;
    o.sql_row_limit = 100;
    return o;
  }
};

json get_json(int port, const std::string& target, int expect = 200) {
  auto r = http_get(port, target);
  INFO(target << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == expect);
  return json::parse(r.body);
}

json sql(int port, const std::string& q, int expect) {
  auto r = http_request(port, "POST", "/api/sql", {{"Content-Type", "application/json"}}, json{{"sql", q}}.dump());
  INFO(q << " -> " << r.status << " " << r.body);
  CHECK(r.status == expect);
  return json::parse(r.body);
}

}  // namespace

TEST_CASE("lttb keeps the ends and the spike, and every point of a short series") {
  std::vector<double> x, y;
  for (int i = 0; i < 10000; ++i) x.push_back(i), y.push_back(i == 6123 ? 100.0 : std::sin(i * 0.01));
  auto keep = serve::lttb(x, y, 500);
  CHECK(keep.size() == 500);
  CHECK(keep.front() == 0);
  CHECK(keep.back() == 9999);
  CHECK(std::is_sorted(keep.begin(), keep.end()));
  CHECK(std::find(keep.begin(), keep.end(), 6123u) != keep.end());
  CHECK(serve::lttb({1, 2, 3}, {1, 2, 3}, 500).size() == 3);
}

TEST_CASE("request targets: percent-decoding, query pairs, bad escapes") {
  serve::Request r;
  REQUIRE(serve::parse_target("/api/runs?q=rl.beta%3D0.001+tag%3Ax&limit=5", r));
  CHECK(r.path == "/api/runs");
  CHECK(*r.param("q") == "rl.beta=0.001 tag:x");
  CHECK(r.int_param("limit", 50, 1, 500) == 5);
  CHECK_FALSE(serve::parse_target("/a%zz", r));
  CHECK_FALSE(serve::parse_target("/a%00b", r));
  CHECK(serve::constant_time_equal("secret", "secret"));
  CHECK_FALSE(serve::constant_time_equal("secret", "secreT"));
  CHECK_FALSE(serve::constant_time_equal("secret", "secret2"));
}

TEST_CASE("runs list: filter, sort, page, chosen columns; one run's details") {
  Fixture f;
  RunningServer s(f.options());
  json all = get_json(s.port, "/api/runs");
  CHECK(all["total"] == 4);
  CHECK(all["rows"][0]["id"] == f.ids.zero);  // newest first
  json page = get_json(s.port, "/api/runs?limit=1&offset=1&sort=id&order=asc");
  REQUIRE(page["rows"].size() == 1);
  CHECK(page["rows"][0]["id"] == f.ids.beta);
  CHECK(page["total"] == 4);
  json beta = get_json(s.port, "/api/runs?q=rl.beta%3D0.001");
  REQUIRE(beta["total"] == 1);
  CHECK(beta["rows"][0]["name"] == "alpha");
  CHECK(beta["rows"][0]["params"]["rl.beta"] == "0.001");
  CHECK(beta["rows"][0]["metrics"]["reward"]["step"] == 4999);
  CHECK(get_json(s.port, "/api/runs?q=rl.beta%3D1e-3")["total"] == 1);  // numbers compare as numbers
  CHECK(get_json(s.port, "/api/runs?q=tag%3Abaseline")["total"] == 1);
  CHECK(get_json(s.port, "/api/runs?q=status%3Drunning")["rows"][0]["name"] == "beta");
  CHECK(get_json(s.port, "/api/runs?q=demo-pipe")["total"] == 2);
  CHECK(get_json(s.port, "/api/runs?q=pipeline%3Ddemo-pipe+kind%3Dgrpo")["rows"][0]["stage"] == "zero");
  json sorted = get_json(s.port, "/api/runs?sort=param:rl.beta&order=desc&params=rl.beta");
  CHECK(sorted["rows"][0]["name"] == "beta");
  CHECK(sorted["params"] == json::array({"rl.beta"}));
  CHECK(get_json(s.port, "/api/runs?sort=metric:reward&order=desc")["rows"][0]["name"] == "demo-pipe.zero");  // 1.5
  CHECK(get_json(s.port, "/api/runs?sort=bogus", 400)["error"].get<std::string>().find("sort") != std::string::npos);
  CHECK(get_json(s.port, "/api/runs?limit=0", 400)["error"].get<std::string>().find("limit") != std::string::npos);
  CHECK(get_json(s.port, "/api/runs?limit=abc", 400)["error"].get<std::string>().find("integer") != std::string::npos);

  json run = get_json(s.port, "/api/runs/" + std::to_string(f.ids.alpha));
  CHECK(run["name"] == "alpha");
  CHECK(run["notes"] == "<i>notes are text</i>");
  CHECK(run["checkpoints"].size() == 1);
  CHECK(run["evals"][0]["value"] == 0.75);
  CHECK(run["samples"] == 24);
  bool has_reward = false;
  for (const auto& k : run["metric_keys"])
    if (k["key"] == "reward") has_reward = k["points"] == 5000;
  CHECK(has_reward);
  get_json(s.port, "/api/runs/999", 404);
  get_json(s.port, "/api/runs/abc", 404);
  get_json(s.port, "/api/nothing", 404);
  json keys = get_json(s.port, "/api/keys");
  CHECK(std::find(keys["params"].begin(), keys["params"].end(), "rl.beta") != keys["params"].end());
}

TEST_CASE("curves are downsampled to at most 2,000 points and say so; expert load as a matrix") {
  Fixture f;
  RunningServer s(f.options());
  const std::string base = "/api/runs/" + std::to_string(f.ids.alpha);
  json m = get_json(s.port, base + "/metrics?keys=reward,accuracy");
  REQUIRE(m["series"].size() == 2);
  for (const auto& series : m["series"]) {
    CHECK(series["n"] == 5000);
    CHECK(series["downsampled"] == true);
    CHECK(series["method"] == "lttb");
    CHECK(series["points"].size() == 2000);
    CHECK(series["points"][0][0] == 0.0);
    CHECK(series["points"].back()[0] == 4999.0);
  }
  json reward = m["series"][1];
  REQUIRE(reward["key"] == "reward");
  bool spike = false;
  for (const auto& p : reward["points"]) spike = spike || p[1] == 5.0;
  CHECK(spike);
  CHECK(get_json(s.port, base + "/metrics?keys=reward&max_points=100")["series"][0]["points"].size() == 100);
  get_json(s.port, base + "/metrics?max_points=5000", 400);
  json everything = get_json(s.port, base + "/metrics");
  CHECK(everything["series"].size() == 10);  // reward, accuracy, 8 expert loads
  json wall = get_json(s.port, base + "/metrics?keys=accuracy&x=wall");
  CHECK(wall["x"] == "wall");
  CHECK(wall["series"][0]["points"][0][0].get<double>() >= 0);
  json short_run = get_json(s.port, "/api/runs/" + std::to_string(f.ids.beta) + "/metrics?keys=reward");
  CHECK(short_run["series"][0]["downsampled"] == false);
  CHECK(short_run["series"][0]["points"].size() == 50);

  json e = get_json(s.port, base + "/experts");
  CHECK(e["layers"] == 2);
  CHECK(e["experts"] == 4);
  CHECK(e["step"] == 4900);
  CHECK(e["load"][1][3].get<double>() == doctest::Approx(test::expert_share(1, 3, 4900)));
  CHECK(get_json(s.port, base + "/experts?step=150")["step"] == 200);
  CHECK(get_json(s.port, "/api/runs/" + std::to_string(f.ids.beta) + "/experts")["layers"] == 0);
}

TEST_CASE("samples: paged, filtered by step, reward, component, finish reason and text; histogram") {
  Fixture f;
  RunningServer s(f.options());
  const std::string base = "/api/runs/" + std::to_string(f.ids.alpha);
  json all = get_json(s.port, base + "/samples?limit=5");
  CHECK(all["total"] == 24);
  CHECK(all["rows"].size() == 5);
  CHECK(all["rows"][0]["reference"] == "0");
  CHECK(all["rows"][0]["breakdown"]["format"] == 1);
  CHECK(get_json(s.port, base + "/samples?step=2")["total"] == 8);
  CHECK(get_json(s.port, base + "/samples?min_reward=0.5")["total"] == 12);
  CHECK(get_json(s.port, base + "/samples?component=accuracy&max_reward=0.5")["total"] == 12);
  CHECK(get_json(s.port, base + "/samples?component=format&min_reward=1")["total"] == 24);
  CHECK(get_json(s.port, base + "/samples?finish=length")["total"] == 3);
  json script = get_json(s.port, base + "/samples?q=%3Cscript%3E");
  REQUIRE(script["total"] == 1);
  CHECK(script["rows"][0]["completion"] == test::kScriptCompletion);
  CHECK(get_json(s.port, base + "/samples?q=100%25")["total"] == 0);  // literal, not a LIKE pattern
  get_json(s.port, base + "/samples?min_reward=abc", 400);
  json steps = get_json(s.port, base + "/sample_steps");
  CHECK(steps["steps"].size() == 3);
  CHECK(steps["steps"][2]["mean_reward"] == 0.5);
  CHECK(steps["components"] == json::array({"accuracy", "format"}));
  json hist = get_json(s.port, base + "/histogram?step=1&bins=4");
  CHECK(hist["n"] == 8);
  CHECK(hist["counts"] == json::array({4, 0, 0, 4}));
  CHECK(hist["edges"].size() == 5);
}

TEST_CASE("compare and lineage") {
  Fixture f;
  RunningServer s(f.options());
  json c = get_json(s.port, "/api/compare?runs=" + std::to_string(f.ids.alpha) + "," + std::to_string(f.ids.beta));
  std::set<std::string> diff;
  for (const auto& d : c["diff"]) diff.insert(d["key"]);
  CHECK(diff == std::set<std::string>{"rl.beta", "run.seed"});
  CHECK(c["same"] == 2);
  get_json(s.port, "/api/compare?runs=1", 400);
  get_json(s.port, "/api/compare?runs=1,999", 404);
  json pipes = get_json(s.port, "/api/pipelines");
  REQUIRE(pipes.size() == 1);
  json p = get_json(s.port, "/api/pipelines/" + std::to_string(pipes[0]["id"].get<int64_t>()));
  REQUIRE(p["stages"].size() == 2);
  CHECK(p["stages"][0]["stage"] == "base");
  CHECK(p["stages"][0]["headline"][0]["label"] == "loss");
  CHECK(p["stages"][1]["parent_run_id"] == f.ids.base);
  CHECK(p["stages"][1]["headline"][0]["value"] == 1.5);
  get_json(s.port, "/api/pipelines/77", 404);
}

TEST_CASE("the SQL box reads and only reads, within its row and time limits") {
  Fixture f;
  RunningServer s(f.options());
  json ok = sql(s.port, "SELECT id, name FROM runs ORDER BY id", 200);
  CHECK(ok["columns"] == json::array({"id", "name"}));
  CHECK(ok["rows"].size() == 4);
  CHECK(ok["truncated"] == false);
  CHECK(sql(s.port, "PRAGMA table_info(runs)", 200)["rows"].size() > 5);  // schema listings are allowed
  CHECK(sql(s.port, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'", 200)["rows"].size() == 1);
  json many = sql(s.port, "SELECT step FROM metric_values", 200);
  CHECK(many["rows"].size() == 100);
  CHECK(many["truncated"] == true);
  for (const char* bad : {"DELETE FROM runs", "INSERT INTO tags VALUES (1, 'x')", "DROP TABLE runs", "UPDATE runs SET name = 'x'",
                          "ATTACH DATABASE '/tmp/r1-serve-attack.db' AS x", "PRAGMA writable_schema = 1", "PRAGMA journal_mode = DELETE",
                          "SELECT load_extension('/tmp/x.so')", "CREATE TEMP TABLE t (x)", "VACUUM",
                          "SELECT 1; DROP TABLE runs"}) {
    json r = sql(s.port, bad, 400);
    CHECK(r.contains("error"));
  }
  json slow = sql(s.port, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c", 400);
  CHECK(slow["error"].get<std::string>().find("longer than 300 ms") != std::string::npos);
  CHECK(sql(s.port, "SELECT COUNT(*) FROM runs", 200)["rows"][0][0] == 4);  // nothing was changed
  CHECK(!std::filesystem::exists("/tmp/r1-serve-attack.db"));
  auto csv = http_get(s.port, "/api/sql?format=csv&sql=SELECT%20id%2C%20name%20FROM%20runs%20ORDER%20BY%20id%20LIMIT%202");
  CHECK(csv.status == 200);
  CHECK(csv.headers["content-type"].find("text/csv") == 0);
  CHECK(csv.body == "id,name\r\n" + std::to_string(f.ids.alpha) + ",alpha\r\n" + std::to_string(f.ids.beta) + ",beta\r\n");
  CHECK(http_request(s.port, "POST", "/api/sql", {}, "not json").status == 400);
  CHECK(http_get(s.port, "/api/sql").status == 400);
}

TEST_CASE("a token guards every route but the login page; loopback is the default") {
  Fixture f;
  serve::ServeOptions o = f.options();
  o.host = "0.0.0.0";
  CHECK_THROWS_WITH_AS(serve::Server{o}, doctest::Contains("--token"), serve::ServeError);
  o.token = "s3cret-token";
  o.host = "127.0.0.1";
  RunningServer s(o);
  CHECK(http_get(s.port, "/api/runs").status == 401);
  CHECK(http_get(s.port, "/").status == 401);
  CHECK(http_get(s.port, "/").body.find("<form") != std::string::npos);
  CHECK(http_get(s.port, "/app.js").status == 401);
  CHECK(http_get(s.port, "/api/events?run=1").status == 401);
  CHECK(http_get(s.port, "/api/runs", {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(http_get(s.port, "/api/runs", {{"Authorization", "Bearer s3cret-token"}}).status == 200);
  CHECK(http_get(s.port, "/login").status == 200);
  CHECK(http_get(s.port, "/?token=nope").status == 401);
  auto in = http_get(s.port, "/?token=s3cret-token");
  CHECK(in.status == 302);
  CHECK(in.headers["set-cookie"].find("r1_token=s3cret-token") == 0);
  CHECK(in.headers["set-cookie"].find("HttpOnly") != std::string::npos);
  CHECK(http_get(s.port, "/api/runs", {{"Cookie", "other=1; r1_token=s3cret-token"}}).status == 200);
  CHECK(http_get(s.port, "/api/runs", {{"Cookie", "r1_token=s3cret-toke"}}).status == 401);
}

TEST_CASE("static routes serve only the embedded assets, with a CSP that forbids inline script") {
  Fixture f;
  RunningServer s(f.options());
  auto index = http_get(s.port, "/");
  CHECK(index.status == 200);
  CHECK(index.headers["content-security-policy"].find("script-src 'self'") != std::string::npos);
  CHECK(index.headers["content-security-policy"].find("unsafe-inline") == std::string::npos);
  CHECK(index.headers["x-content-type-options"] == "nosniff");
  CHECK(index.body.find("<script>") == std::string::npos);  // no inline script in our own page
  CHECK(http_get(s.port, "/app.js").headers["content-type"].find("javascript") != std::string::npos);
  for (const char* bad : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/app.js/../../../etc/passwd", "/etc/passwd",
                          "/..%2f..%2fetc%2fpasswd", "/web/app.js", "/login.html", "/%2fetc%2fpasswd"}) {
    auto r = http_get(s.port, bad);
    INFO(bad);
    CHECK((r.status == 404 || r.status == 400));
    CHECK(r.body.find("root:") == std::string::npos);
  }
}

TEST_CASE("malformed, oversized and slow requests get an error or a timeout, and the server keeps serving") {
  Fixture f;
  RunningServer s(f.options());
  std::string garbage = test::raw_exchange(s.port, "\x16\x03\x01 GARBAGE\r\n\r\n", 2000);
  CHECK(garbage.find("400") != std::string::npos);
  std::string huge = test::raw_exchange(s.port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n", 2000);
  CHECK(huge.find("431") != std::string::npos);
  std::string bad_target = test::raw_exchange(s.port, "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
  CHECK(bad_target.find("400") != std::string::npos);
  std::string big_body = test::raw_exchange(s.port, "POST /api/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nxx", 2000);
  CHECK(big_body.find("413") != std::string::npos);
  // A client that sends half a request and stalls is dropped after the request timeout (1 s here).
  auto t0 = std::chrono::steady_clock::now();
  std::string slow = test::raw_exchange(s.port, "GET /api/runs HTTP/1.1\r\nHo", 5000);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(slow.empty());
  CHECK(waited < 4.0);
  CHECK(http_get(s.port, "/api/runs").status == 200);
}

TEST_CASE("a run's new metric rows and samples stream to the page within 2 s") {
  Fixture f;
  RunningServer s(f.options());
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(s.port)));
  std::string req = "GET /api/events?run=" + std::to_string(f.ids.beta) + "&after_step=49 HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(sock, asio::buffer(req));
  struct timeval tv{0, 200000};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  auto read_until = [&](const std::string& needle, double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    char buf[4096];
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
      ssize_t n = ::recv(sock.native_handle(), buf, sizeof buf, 0);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0) break;
    }
    return got.find(needle) != std::string::npos;
  };
  REQUIRE(read_until("retry: 1000", 2.0));
  CHECK(got.find("text/event-stream") != std::string::npos);
  {
    auto store = experiments::RunStore::open(f.db);
    store.log_metrics(f.ids.beta, 50, {{"reward", 0.77}});
    experiments::SampleRecord r;
    r.step = 50;
    r.completion = "live";
    store.log_sample(f.ids.beta, r);
    store.flush();
  }
  auto t0 = std::chrono::steady_clock::now();
  CHECK(read_until("[50,0.77", 2.0));
  CHECK(read_until("event: samples", 2.0));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 2.0);
  CHECK(got.find("[49,") == std::string::npos);  // nothing before the cursor is re-sent
}
