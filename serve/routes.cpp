#include "serve/routes.h"

namespace r1::serve {
namespace {

const Asset* find_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const Asset& a : embedded_assets())
    if (a.path == path) return &a;
  return nullptr;
}

// The value of one cookie in a Cookie header ("a=1; r1_token=xyz").
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
      return part.substr(name.size() + 1);
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

}  // namespace

bool Router::authorized(const Request& req) const {
  if (token_.empty()) return true;
  std::string_view auth = req.authorization;
  if (auth.size() > 7 && auth.substr(0, 7) == "Bearer " && constant_time_equal(auth.substr(7), token_)) return true;
  auto c = cookie_value(req.cookie, "r1_token");
  return c && constant_time_equal(*c, token_);
}

Router::Decision Router::login_page(int status) const {
  Decision d;
  const Asset* a = find_asset("/login.html");
  d.response.status = status;
  d.response.content_type = std::string(a->content_type);
  d.response.body = std::string(a->body);
  if (status == 401) d.response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return d;
}

Router::Decision Router::route(const Request& req) {
  if (req.path == "/login") return login_page(200);
  if (req.path == "/login.css" || req.path == "/favicon.svg") {
    Decision d;
    const Asset* a = find_asset(req.path);
    d.response.content_type = std::string(a->content_type);
    d.response.body = std::string(a->body);
    return d;
  }
  // /?token=T checks the token once and keeps it in an HttpOnly cookie for the pages' requests.
  if (req.path == "/" && req.param("token") && !token_.empty()) {
    if (!constant_time_equal(*req.param("token"), token_)) return login_page(401);
    Decision d;
    d.response.status = 302;
    d.response.content_type = "text/plain";
    d.response.headers.emplace_back("Location", "/");
    d.response.headers.emplace_back("Set-Cookie", "r1_token=" + token_ + "; Path=/; HttpOnly; SameSite=Strict");
    return d;
  }
  const bool api = req.path.rfind("/api/", 0) == 0;
  if (!authorized(req)) {
    if (api) return {json_error(401, "unauthorized: send the token as 'Authorization: Bearer TOKEN' or open /?token=TOKEN"), {}};
    return login_page(401);
  }
  if (req.path == "/api/events") {
    try {
      int64_t run = req.int_param("run", 0, 1, INT64_MAX);
      int64_t after = req.int_param("after_step", -1, -1, INT64_MAX / 2);
      Decision d;
      d.live = api_.live_open(run, after);
      return d;
    } catch (const BadRequest& e) {
      return {json_error(400, e.message), {}};
    } catch (const NotFound& e) {
      return {json_error(404, e.message), {}};
    } catch (const std::exception& e) {
      return {json_error(500, e.what()), {}};
    }
  }
  if (api) return {api_.handle(req), {}};
  if (req.method != "GET" && req.method != "HEAD") return {json_error(405, "only GET here"), {}};
  const Asset* a = find_asset(req.path);
  if (!a || a->path == "/login.html") {
    Decision d;
    d.response.status = 404;
    d.response.content_type = "text/plain; charset=utf-8";
    d.response.body = "not found\n";
    return d;
  }
  Decision d;
  d.response.content_type = std::string(a->content_type);
  d.response.body = std::string(a->body);
  d.response.headers.emplace_back("Cache-Control", "no-cache");
  return d;
}

}  // namespace r1::serve
