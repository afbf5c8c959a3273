// Includes and overrides for recipe files.
#include "experiments/recipe_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace r1::experiments {
namespace {

Value load_with_includes(const fs::path& path, std::vector<std::string>& stack, std::vector<std::string>& files,
                              const Origin& included_from) {
  std::error_code ec;
  fs::path canon = fs::weakly_canonical(path, ec);
  std::string key = canon.string();
  if (std::find(stack.begin(), stack.end(), key) != stack.end())
    throw ConfigError(included_from.str() + ": include cycle through " + path.string());
  if (!fs::exists(path)) {
    if (included_from.file.empty()) throw ConfigError(path.string() + ": recipe not found (check the path)");
    throw ConfigError(included_from.str() + ": included recipe " + path.string() + " not found");
  }
  stack.push_back(key);
  Value own = parse_toml_file(path.string());
  Value merged(Value::Object{});
  if (const Value* inc = own.find("include")) {
    std::vector<Value> names;
    if (inc->is_string()) names.push_back(*inc);
    else if (inc->is_array()) names = inc->as_array();
    for (const Value& n : names) {
      if (!n.is_string())
        throw ConfigError(n.origin().str() + ": include: expected file names (strings), got " + n.type_name());
      fs::path child = path.parent_path() / n.as_string();
      merge_into(merged, load_with_includes(child, stack, files, n.origin()));
    }
    own.erase("include");
  }
  merge_into(merged, own);
  merged.set_origin(own.origin());
  stack.pop_back();
  files.push_back(path.string());
  return merged;
}

}  // namespace

void apply_set(Value& root, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected section.key=value");
  std::string path = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  Origin origin{"--set " + path, 0};
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw ConfigError("--set " + assignment + ": empty key segment");
    parts.push_back(p);
  }
  Value* cur = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (cur->is_array()) {
      char* end = nullptr;
      long idx = std::strtol(p.c_str(), &end, 10);
      if (*end != '\0' || idx < 0 || static_cast<size_t>(idx) >= cur->size())
        throw ConfigError("--set " + assignment + ": '" + p + "' is not an index of the " +
                          std::to_string(cur->size()) + " entries of that array");
      cur = &cur->as_array()[idx];
      continue;
    }
    if (!cur->is_object())
      throw ConfigError("--set " + assignment + ": '" + p + "' is inside a value that is not a table");
    Value* next = cur->find(p);
    if (!next) {
      Value table(Value::Object{});
      table.set_origin(origin);
      cur->set(p, std::move(table));
      next = cur->find(p);
    }
    cur = next;
  }
  if (!cur->is_object())
    throw ConfigError("--set " + assignment + ": the parent of '" + parts.back() + "' is not a table");
  cur->set(parts.back(), parse_toml_value(value, origin));
}

RecipeSource load_recipe(const std::string& path, const std::vector<std::string>& sets) {
  RecipeSource src;
  std::vector<std::string> stack;
  src.tree = load_with_includes(path, stack, src.files, Origin{});
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  src.text = buf.str();
  for (const auto& s : sets) apply_set(src.tree, s);
  return src;
}

}  // namespace r1::experiments
