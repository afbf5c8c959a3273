// Chat templates: the Jinja2 `chat_template` of tokenizer_config.json rendered as transformers'
// apply_chat_template does (trim_blocks, lstrip_blocks, loop controls, tojson = json.dumps with
// ensure_ascii=False, bos/eos/pad tokens as variables), plus R1-Zero's plain-text template.
//
//   ChatTemplate t = ChatTemplate::compile(tok.chat_template());
//   std::string text = t.render(messages, /*add_generation_prompt=*/true, {{"bos_token", ...}});
//
// The Jinja subset covers what real chat templates use: if/elif/else, for (loop.*, else,
// filters), set (incl. namespace attributes), expressions with filters, tests, slices, string and
// dict methods, macros are not supported. Errors name the template line.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/json_value.h"

namespace r1::text {

class ChatTemplate {
 public:
  static ChatTemplate compile(const std::string& source);  // throws TextError "chat template line N: ..."
  ChatTemplate();
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // `variables` are the template's globals (messages, add_generation_prompt, tools, bos_token, ...).
  std::string render(const Value::Object& variables) const;

  struct Program;

 private:
  std::shared_ptr<const Program> program_;
};

class Tokenizer;
// transformers' apply_chat_template(messages, tools=..., add_generation_prompt=..., **extra):
// the tokenizer's special tokens are passed as variables.
std::string apply_chat_template(const Tokenizer& tok, const ChatTemplate& t, const Value& messages,
                                bool add_generation_prompt, const Value& tools = Value(),
                                const Value::Object& extra = {});

// DeepSeek-R1-Zero's template (arXiv 2501.12948, Table 1), with the question in place of "prompt".
std::string r1_zero_prompt(const std::string& question);
extern const char* const kR1SystemInstruction;  // the R1 instruction used by the `chat` template

}  // namespace r1::text
