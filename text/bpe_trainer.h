// Trains a byte-level BPE tokenizer (for tiny models) and writes tokenizer.json +
// tokenizer_config.json that both our loader and Hugging Face's read. Pre-tokenization is
// Qwen2's split with one piece per digit, so numbers stay digit-by-digit (arithmetic tasks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::text {

struct BpeTrainOptions {
  int64_t vocab_size = 1024;                 // 256 bytes + merges + special tokens
  int64_t min_frequency = 2;                 // pairs seen fewer times are not merged
  std::vector<std::string> special_tokens = {"<|endoftext|>"};  // first = EOS and PAD
};

struct BpeTrainResult {
  int64_t vocab_size = 0, merges = 0, words = 0;
};

// `texts`: the corpus. Writes out_dir/tokenizer.json and out_dir/tokenizer_config.json atomically.
BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& options, const std::string& out_dir);

// The pre-tokenizer regex the trainer writes into tokenizer.json.
extern const char* const kTrainedSplitPattern;

}  // namespace r1::text
