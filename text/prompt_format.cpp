#include "text/prompt_format.h"

namespace r1::text {

PromptFormat::PromptFormat(const std::string& name, const Tokenizer& tok) : name_(name), tok_(&tok) {
  if (name == "chat" || name == "chat-plain") {
    if (tok.chat_template().empty())
      throw TextError("prompt template '" + name + "': the tokenizer (" + tok.source() + ") has no chat_template");
    chat_ = ChatTemplate::compile(tok.chat_template());
    is_chat_ = true;
    r1_system_ = name == "chat";
  } else if (name != "r1-zero" && name != "none" && name.find("{question}") == std::string::npos) {
    throw TextError("prompt template '" + name + "' is not r1-zero, chat, chat-plain, none or a string containing {question}");
  }
}

std::string PromptFormat::text(const std::string& q) const {
  if (is_chat_) {
    Value::Array msgs;
    if (r1_system_) msgs.push_back(Value(Value::Object{{"role", Value("system")}, {"content", Value(kR1SystemInstruction)}}));
    msgs.push_back(Value(Value::Object{{"role", Value("user")}, {"content", Value(q)}}));
    return apply_chat_template(*tok_, chat_, Value(msgs), true);
  }
  if (name_ == "r1-zero") return r1_zero_prompt(q);
  if (name_ == "none") return q;
  std::string out = name_;
  for (size_t at; (at = out.find("{question}")) != std::string::npos;) out.replace(at, 10, q);
  return out;
}

std::string PromptFormat::text_of_messages(const Value& messages) const {
  if (is_chat_) {
    bool has_system = false;
    for (const auto& m : messages.as_array()) has_system |= m["role"].is_string() && m["role"].as_string() == "system";
    if (!r1_system_ || has_system) return apply_chat_template(*tok_, chat_, messages, true);
    Value::Array msgs{Value(Value::Object{{"role", Value("system")}, {"content", Value(kR1SystemInstruction)}})};
    for (const auto& m : messages.as_array()) msgs.push_back(m);
    return apply_chat_template(*tok_, chat_, Value(msgs), true);
  }
  std::string last;
  for (const auto& m : messages.as_array())
    if (m["role"].is_string() && m["role"].as_string() == "user") last = m["content"].as_string();
  return text(last);
}

std::vector<int32_t> PromptFormat::encode(const std::string& q) const { return tok_->encode(text(q), !is_chat_); }

std::vector<int32_t> PromptFormat::encode_messages(const Value& messages) const {
  return tok_->encode(text_of_messages(messages), !is_chat_);  // a chat template writes its own special tokens
}

}  // namespace r1::text
