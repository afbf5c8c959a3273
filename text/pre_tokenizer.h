// Hugging Face pre-tokenizers that byte-level BPE models use: Sequence, Split (regex or string,
// every SplitDelimiterBehavior, invert), ByteLevel (prefix space, GPT-2 regex), Digits,
// Whitespace, WhitespaceSplit. A piece is a byte range of the normalized text, plus whether a
// space is to be prepended (ByteLevel add_prefix_space) — no string copies on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "text/json_value.h"

namespace r1::text {

struct Piece {
  uint32_t begin = 0, end = 0;
  bool prefix_space = false;
};

class PreTokenizer {
 public:
  // From tokenizer.json's "pre_tokenizer" (null = whole text as one piece). Throws TextError.
  static PreTokenizer from_json(const Value& spec);
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Appends the pieces of text[begin, end) to `out`.
  void split(std::string_view text, uint32_t begin, uint32_t end, std::vector<Piece>& out) const;
  bool byte_level() const { return byte_level_; }  // a ByteLevel step is present

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
  bool byte_level_ = false;
};

}  // namespace r1::text
