// The one value tree (JSON, TOML recipes, Jinja) and its binder: copies are independent, notes
// (origin, doc) travel with values, and binding errors read the same whatever the source format.
#include <doctest/doctest.h>

#include <array>

#include "text/value_binder.h"

using namespace r1::text;

namespace {

enum class Mode { fast, slow };
constexpr std::array<std::pair<Mode, std::string_view>, 2> enum_names(Mode) {
  return {{{Mode::fast, "fast"}, {Mode::slow, "slow"}}};
}

struct Inner {
  double rate = 0.5;
  template <class V>
  void visit(V& v) {
    v("rate", rate, "a rate", 0.0, 1.0);
  }
};

struct Outer {
  int64_t steps = 10;
  Mode mode = Mode::fast;
  int64_t token = -1;
  Inner inner;
  Value kept;
  template <class V>
  void visit(V& v) {
    v.required("steps", steps, "how many", 1);
    v("mode", mode, "fast | slow");
    v.nullable("token", token, int64_t{-1}, "a token or null", 0);
    v.table("inner", inner, "a sub-table");
    v.rest(kept);
  }
};

}  // namespace

TEST_CASE("edits copy on write: a copy never sees the original's changes, nested or not") {
  Value a = parse_json(R"({"x": {"y": [1, 2]}, "z": 3})", "a");
  Value b = a;
  b.find("x")->find("y")->as_array().push_back(Value(int64_t{9}));
  b.erase("z");
  CHECK(a["x"]["y"].size() == 2);
  CHECK(a.contains("z"));
  CHECK(b["x"]["y"].size() == 3);
  CHECK(!b.contains("z"));
}

TEST_CASE("notes travel with the value and never change its contents") {
  Value v(int64_t{4});
  v.set_origin(Origin{"recipe.toml", 12});
  v.set_doc("four");
  Value copy = v;
  CHECK(copy.origin().str() == "recipe.toml:12");
  CHECK(copy.doc() == "four");
  CHECK(copy == Value(int64_t{4}));
  CHECK(Value().origin().str() == "<default>");
}

TEST_CASE("the binder reads JSON both ways: required, nullable, enums, nested tables, kept keys") {
  Value j = parse_json(R"({"steps": 3, "mode": "slow", "token": null, "inner": {"rate": 0.25}, "extra": [1]})", "j");
  Outer o;
  bind_table(j, "", o, "cfg.json");
  CHECK(o.steps == 3);
  CHECK(o.mode == Mode::slow);
  CHECK(o.token == -1);
  CHECK(o.inner.rate == 0.25);
  CHECK(o.kept["extra"][0].as_int() == 1);
  Value back = to_tree(o);
  CHECK(back["token"].is_null());
  CHECK(back["mode"].as_string() == "slow");
  CHECK(back["extra"][0].as_int() == 1);
  CHECK(back["steps"].doc() == "how many");
  Outer again;
  bind_table(back, "", again, "back");
  CHECK(to_tree(again) == back);
}

TEST_CASE("binding errors name the source, the dotted key and what was expected") {
  auto error_of = [](const std::string& json) {
    Outer o;
    try {
      bind_table(parse_json(json, "j"), "", o, "cfg.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error_of(R"({})") == "cfg.json: missing required key 'steps'");
  CHECK(error_of(R"({"steps": 1.5})") == "cfg.json: steps: expected an integer, got a float 1.5");
  CHECK(error_of(R"({"steps": 0})").find("cfg.json: steps: value 0 is out of range [1, ") == 0);
  CHECK(error_of(R"({"steps": 1, "mode": "fsat"})") == "cfg.json: mode: \"fsat\" is not one of fast | slow (did you mean \"fast\"?)");
  CHECK(error_of(R"({"steps": 1, "inner": {"rate": 2}})").find("cfg.json: inner.rate: value 2 is out of range [0, 1]") == 0);
  CHECK(error_of(R"({"steps": 1, "inner": {"rat": 0.1}})") == "cfg.json: unknown key 'inner.rat' (did you mean 'inner.rate'?)");
  CHECK(error_of(R"({"steps": 1, "inner": 3})") == "cfg.json: inner: expected a table ([inner]), got an integer");
  // A value that knows its line (a TOML recipe) is named by it instead of the source.
  Value t = parse_json(R"({"steps": "many"})", "t");
  t.find("steps")->set_origin(Origin{"r.toml", 7});
  Outer o;
  CHECK_THROWS_WITH_AS(bind_table(t, "", o, "cfg.json"), "r.toml:7: steps: expected an integer, got a string \"many\"", ConfigError);
}
