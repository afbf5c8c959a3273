// The project's one dynamic value tree: what policy/ reads from config.json, tokenizer.json and
// safetensors headers, what experiments/ parses recipes (TOML) into, and the value type of the
// chat-template (Jinja) interpreter. json_value.cpp is the folder's one user of the JSON library.
// Objects keep insertion order (Python's json.dumps and TOML files do too). A value may carry a
// note: where it was written (file:line, for errors that point at the user's line) and a doc
// line (emitted as a comment when a config is written back). value_binder.h binds trees onto
// typed config structs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::text {

// Bad input to the text stack (JSON, tokenizer.json, chat templates): the message names the file
// and key, and ends with a hint. policy::PolicyError is the same type, so one handler covers a
// model folder's config, weights and tokenizer.
class TextError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a value was written: "recipe.toml:12", "--set rl.lr", or nothing (built in code).
struct Origin {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  std::string str() const;  // "path:12", "path", or "<default>" when empty
};

class Value {
 public:
  enum class Type { Undefined, Null, Bool, Int, Float, String, Array, Object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;

  Value() = default;  // undefined
  static Value null();
  Value(bool b);
  Value(int v);
  Value(int64_t v);
  Value(double v);
  Value(const char* s);
  Value(std::string s);
  Value(Array a);
  Value(Object o);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return type_ == Type::Float ? static_cast<int64_t>(f_) : i_; }
  double as_double() const { return type_ == Type::Int ? static_cast<double>(i_) : f_; }
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();  // mutable access copies shared storage first (copy on write)
  const Object& as_object() const;
  Object& as_object();

  // Object access: undefined when absent (or when this is not an object).
  const Value& operator[](std::string_view key) const;
  bool contains(std::string_view key) const;
  void set(const std::string& key, Value v);
  // Mutates the shared object even when copies exist (Jinja namespace objects are references).
  void set_shared(const std::string& key, Value v);
  // Array access: undefined when out of range.
  const Value& operator[](size_t i) const;
  size_t size() const;

  // Object members by key, for code that edits a tree: nullptr when absent (or not an object).
  // The mutable forms copy shared storage first, as every mutation of a Value does.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  bool erase(std::string_view key);

  bool truthy() const;  // Jinja/Python truthiness
  std::string type_name() const;  // "a string", "an integer", "an object", ...

  const Origin& origin() const;
  void set_origin(Origin o);
  const std::string& doc() const;
  void set_doc(std::string doc);

  // Typed getters with a clear error naming `where` (e.g. "config.json") and the key.
  int64_t get_int(std::string_view key, const std::string& where) const;
  double get_double(std::string_view key, const std::string& where) const;
  std::string get_string(std::string_view key, const std::string& where) const;

 private:
  Type type_ = Type::Undefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<std::string> s_;  // shared: values are copied freely by the template engine
  std::shared_ptr<Array> a_;
  std::shared_ptr<Object> o_;
  struct Note {
    Origin origin;
    std::string doc;
  };
  std::shared_ptr<const Note> note_;  // null for values built from JSON or in code
};

bool operator==(const Value& a, const Value& b);  // compares contents, not notes

// JSON text -> Value. Throws TextError naming `source` and the byte offset.
Value parse_json(std::string_view text, const std::string& source);
Value read_json_file(const std::string& path);
// Value -> JSON text. `python_style` writes like Python's json.dumps(ensure_ascii=False):
// ", " and ": " separators, floats as repr(). Otherwise compact. indent > 0 pretty-prints.
std::string to_json(const Value& v, bool python_style = false, int indent = -1);
// A double-quoted string with JSON's escapes (control characters and DEL as \u00XX), which is
// also valid TOML basic-string syntax: the one string escaping of the project's text formats.
std::string quote_string(std::string_view s);
// Python's repr() of a float ("1.0", "0.1", "1e-05").
std::string python_float_repr(double v);

}  // namespace r1::text
