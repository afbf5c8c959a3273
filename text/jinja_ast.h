// Syntax tree of the Jinja subset (internal to policy/: jinja_parse.cpp builds it,
// jinja_render.cpp evaluates it).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/chat_template.h"
#include "text/json_value.h"

namespace r1::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind { Literal, Name, List, Dict, Attr, Index, Slice, Call, Filter, Test, Not, Neg, Binary, Cond };
  Kind kind;
  int line = 0;
  Value literal;            // Literal
  std::string name;         // Name, Attr (attribute), Filter/Test name, Binary operator
  std::vector<ExprPtr> args;  // operands / positional arguments / list items / dict keys+values interleaved
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;     // Test: "is not"
};

struct Stmt;
using StmtList = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { Text, Output, If, For, Set, SetAttr, Break, Continue };
  Kind kind;
  int line = 0;
  std::string text;                 // Text
  ExprPtr expr;                     // Output value, Set value, For iterable
  std::vector<std::pair<ExprPtr, StmtList>> branches;  // If: (condition or null for else, body)
  std::vector<std::string> targets; // For loop variables, Set name, SetAttr {object, attribute}
  ExprPtr filter;                   // For ... if cond
  StmtList body, else_body;         // For
};

StmtList parse_template(const std::string& source);  // throws TextError with the line

}  // namespace r1::text::jinja

namespace r1::text {
struct ChatTemplate::Program {
  jinja::StmtList body;
};
}  // namespace r1::text
