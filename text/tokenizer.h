// Hugging Face tokenizer.json (byte-level BPE) with tokenizer_config.json's BOS/EOS handling:
// the same ids as the `tokenizers` library for DeepSeek-V3, Qwen2/3, Llama-3-style files.
//
//   Tokenizer tok = Tokenizer::load("path/to/model");     // folder or tokenizer.json
//   std::vector<int32_t> ids = tok.encode("Hello", /*add_special_tokens=*/true);
//   std::string text = tok.decode(ids);
//
// Encoding: added tokens are split off first (leftmost-longest, on the raw text for
// normalized=false tokens); each remaining piece is normalized, pre-tokenized and BPE-encoded.
// Thread-safe: encode/decode may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/json_value.h"

namespace r1::text {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

class Tokenizer {
 public:
  // `path`: a folder holding tokenizer.json (and optionally tokenizer_config.json), or the file.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_json(const Value& tokenizer_json, const Value& tokenizer_config, const std::string& source);
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  // The raw bytes of one token (may be a partial UTF-8 sequence): what streaming decoders join.
  const std::string& token_bytes(int32_t id) const;

  int32_t vocab_size() const;   // id space: max id + 1 over the model vocab and added tokens
  std::optional<int32_t> token_to_id(std::string_view token) const;  // added token or byte-level text
  bool is_special(int32_t id) const;
  int32_t bos_id() const { return bos_id_; }  // -1 = none
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }
  const std::string& pad_token() const { return pad_token_; }
  const std::string& chat_template() const { return chat_template_; }
  const std::vector<AddedToken>& added_tokens() const;
  const std::string& source() const { return source_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int32_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  std::string bos_token_, eos_token_, pad_token_, chat_template_, source_;
};

}  // namespace r1::text
