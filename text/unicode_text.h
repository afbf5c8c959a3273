// UTF-8 helpers for the tokenizer: decoding code points, lossy repair of invalid UTF-8 (as Rust's
// String::from_utf8_lossy, which Hugging Face's decoder uses), and Unicode normalization forms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1::text {

// Decodes the code point at s[i], advancing i; returns -1 (and advances one byte) when invalid.
int32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, int32_t cp);
bool utf8_valid(std::string_view s);
// Invalid sequences become U+FFFD, one per maximal invalid subpart.
std::string utf8_lossy(std::string_view s);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize_unicode(std::string_view s, NormalForm form);
std::string lowercase_unicode(std::string_view s);

}  // namespace r1::text
