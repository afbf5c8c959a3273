// A recipe as data: a tree of TOML values in which every value remembers the file and line it
// came from, so an error can point at the line the user wrote. toml_io.cpp is the only file that
// knows the TOML library; binding a tree onto typed config structs is config_binder.h.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::experiments {

// Bad recipe, bad database, bad input: the message names the file/key/line and ends with a hint.
class ExperimentsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
using ConfigError = ExperimentsError;

struct Origin {
  std::string file;  // recipe path, or "--set"
  int line = 0;      // 1-based; 0 = unknown
  std::string str() const;  // "path:12", "path", "--set"
};

struct ConfigNode {
  enum class Kind { Table, Array, String, Integer, Float, Boolean };

  Kind kind = Kind::Table;
  std::string string_value;
  int64_t int_value = 0;
  double float_value = 0.0;
  bool bool_value = false;
  std::vector<std::pair<std::string, ConfigNode>> members;  // Table, in file order
  std::vector<ConfigNode> items;                            // Array
  Origin origin;
  std::string doc;            // comment written before the key when emitted (defaults only)
  mutable bool used = false;  // set by the binder; unused nodes are unknown keys

  static ConfigNode table(Origin o = {});
  static ConfigNode array(Origin o = {});
  static ConfigNode of(std::string v, Origin o = {});
  static ConfigNode of(int64_t v, Origin o = {});
  static ConfigNode of(double v, Origin o = {});
  static ConfigNode of(bool v, Origin o = {});

  const ConfigNode* find(std::string_view key) const;
  ConfigNode* find(std::string_view key);
  ConfigNode& set(const std::string& key, ConfigNode value);  // replaces or appends
  bool erase(std::string_view key);
  bool is_scalar() const { return kind != Kind::Table && kind != Kind::Array; }
  std::string kind_name() const;  // "a string", "an integer", ...
  std::string display() const;    // the value as the user would write it, for messages
};

// Parsing (toml_io.cpp). Syntax errors name "file:line:column".
ConfigNode parse_toml_file(const std::string& path);
ConfigNode parse_toml_string(std::string_view text, const std::string& source_name);
// A `--set` value: any TOML value (`0.28`, `true`, `"x"`, `[1, 2]`); anything else is a bare string.
ConfigNode parse_toml_value(std::string_view text, const Origin& origin);

// Emission (config_emit.cpp): valid TOML with `# doc` comments, scalars before subtables.
std::string to_toml(const ConfigNode& root);
// JSON object text (config_emit.cpp), for the store's resolved-config column.
std::string to_json(const ConfigNode& root);
// Flattened "dotted.key" -> value text, arrays of tables indexed: rewards.0.name.
std::vector<std::pair<std::string, std::string>> flatten(const ConfigNode& root);

// Recursively overlays `overlay` onto `base`: tables merge, everything else replaces.
void merge_into(ConfigNode& base, const ConfigNode& overlay);

// The candidate closest to `word` by edit distance, or "" when none is plausibly a typo of it.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace r1::experiments
