// Requests and responses as the dashboard's routes see them: no Beast here, so the routes and the
// JSON endpoints compile fast and are tested without sockets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::serve {

struct Request {
  std::string method = "GET";
  std::string path;                               // percent-decoded
  std::multimap<std::string, std::string> query;  // percent-decoded, '+' as space
  std::string authorization, cookie, body;

  std::optional<std::string> param(const std::string& key) const;
  std::string param_or(const std::string& key, const std::string& fallback) const;
  // An integer parameter in [lo, hi]; absent -> fallback; not a number or out of range -> BadRequest.
  int64_t int_param(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  std::optional<double> double_param(const std::string& key) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond the security headers
};

// Thrown by handlers for a bad parameter: answered as 400 with the message.
struct BadRequest {
  std::string message;
};
struct NotFound {
  std::string message;
};

// Splits "/path?a=1&b=x%20y" into a Request's path and query; false for malformed escapes.
bool parse_target(std::string_view target, Request& out);
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space);

Response json_error(int status, const std::string& message);

// Headers sent with every response: a Content-Security-Policy without inline script, no sniffing,
// no framing, no referrer.
const std::vector<std::pair<std::string, std::string>>& security_headers();

// Equal strings in time that depends only on their lengths (token checks).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace r1::serve
