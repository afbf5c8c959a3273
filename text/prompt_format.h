// How a question becomes the prompt a policy sees: R1-Zero's plain-text template, the model's
// chat template (with or without R1's system instruction), the raw text, or a custom string with
// {question}. Encoding follows transformers: plain texts get the tokenizer's BOS/EOS rule, chat
// texts carry their own BOS.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace r1::text {

class PromptFormat {
 public:
  // name: "r1-zero" | "chat" (the model's chat template with R1's system instruction) |
  // "chat-plain" (the chat template alone) | "none" | text with {question}
  PromptFormat(const std::string& name, const Tokenizer& tok);
  std::string text(const std::string& question) const;
  std::vector<int32_t> encode(const std::string& question) const;
  // A conversation (chat formats only); plain formats use the last user message.
  // With "chat", R1's system instruction goes first unless the conversation has a system message.
  std::string text_of_messages(const Value& messages) const;
  std::vector<int32_t> encode_messages(const Value& messages) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  const Tokenizer* tok_;
  ChatTemplate chat_;
  bool is_chat_ = false, r1_system_ = false;
};

}  // namespace r1::text
