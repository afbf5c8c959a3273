// The regexes of tokenizer.json pre-tokenizers, run by PCRE2 (JIT) with Oniguruma's semantics,
// which Hugging Face `tokenizers` uses: `\s` is [\t\n\v\f\r\x20\x85] plus Zs/Zl/Zp (PCRE2 would
// also take U+180E), and (?i:...) folds ASCII letters only (PCRE2 would match U+017F for 's').
// The pattern is rewritten into those explicit classes before compiling.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::text {

class SplitRegex {
 public:
  explicit SplitRegex(const std::string& pattern);  // throws TextError on a bad pattern
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // Byte ranges [begin, end) of every non-overlapping match in `text` (valid UTF-8), left to right.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  const std::string& pattern() const { return original_; }

  // Exposed for tests: the PCRE2 pattern a tokenizer.json pattern becomes.
  static std::string translate(const std::string& oniguruma_pattern);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string original_;
};

}  // namespace r1::text
