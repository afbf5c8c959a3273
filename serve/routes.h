// What the server does with each request: the token check, the login page, the embedded web
// assets (an exact-name table: nothing is read from the file system), the JSON endpoints and the
// start of a live stream. No Beast here.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "serve/api.h"
#include "serve/http_types.h"

namespace r1::serve {

struct Asset {
  std::string_view path, content_type, body;
};
std::span<const Asset> embedded_assets();  // generated at build time from serve/web/

class Router {
 public:
  Router(Api& api, std::string token) : api_(api), token_(std::move(token)) {}

  struct Decision {
    Response response;                // sent as is, unless live is set
    std::optional<LiveCursor> live;   // start a server-sent event stream from here
  };
  Decision route(const Request& req);
  Api& api() { return api_; }

 private:
  bool authorized(const Request& req) const;
  Decision login_page(int status) const;

  Api& api_;
  std::string token_;
};

}  // namespace r1::serve
