// A recipe as data: a text::Value tree parsed from TOML in which every value remembers the file
// and line it came from, so an error can point at the line the user wrote. toml_io.cpp is the
// only file that knows the TOML library; binding a tree onto typed config structs is
// text/value_binder.h, the same binder the model's config.json goes through.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/json_value.h"
#include "text/value_binder.h"

namespace r1::experiments {

// Bad database or store input: the message names the file/statement and ends with a hint.
class ExperimentsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Bad recipe: a wrong type, range, key, include or --set (thrown here and by the binder).
using ConfigError = text::ConfigError;
using text::Origin;
using text::Value;

// Parsing (toml_io.cpp). Syntax errors name "file:line:column". Every value carries its origin.
Value parse_toml_file(const std::string& path);
Value parse_toml_string(std::string_view text, const std::string& source_name);
// A `--set` value: any TOML value (`0.28`, `true`, `"x"`, `[1, 2]`); anything else is a bare string.
Value parse_toml_value(std::string_view text, const Origin& origin);

// Emission (config_emit.cpp): valid TOML with `# doc` comments, scalars before subtables.
std::string to_toml(const Value& root);
// JSON object text, for the store's resolved-config column (text::to_json, Python's separators).
std::string to_json(const Value& root);
// Flattened "dotted.key" -> value text, arrays of tables indexed: rewards.0.name.
std::vector<std::pair<std::string, std::string>> flatten(const Value& root);

// Recursively overlays `overlay` onto `base`: tables merge, everything else replaces.
void merge_into(Value& base, const Value& overlay);

}  // namespace r1::experiments
