// PCRE2 behind SplitRegex, with the Oniguruma translation described in the header.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/split_regex.h"

#include <pcre2.h>

#include <cctype>
#include <mutex>
#include <unordered_map>

#include "text/json_value.h"

namespace r1::text {

namespace {

// Oniguruma's \s as a class body (no brackets), usable inside other classes.
const char* kSpaceClassBody = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\p{Zs}\\p{Zl}\\p{Zp}";

}  // namespace

std::string SplitRegex::translate(const std::string& p) {
  std::string out;
  bool in_class = false;
  // Stack of open groups: true when the group is a (?i: group.
  std::vector<bool> groups;
  int caseless_depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 's') {
        out += in_class ? std::string(kSpaceClassBody) : "[" + std::string(kSpaceClassBody) + "]";
      } else if (n == 'S') {
        if (in_class) throw TextError("pre-tokenizer regex: \\S inside a character class is not supported: " + p);
        out += "[^" + std::string(kSpaceClassBody) + "]";
      } else {
        out += c;
        out += n;
        // \p{..} / \x{..} carry a braced argument: copy it verbatim.
        if ((n == 'p' || n == 'P' || n == 'x') && i + 2 < p.size() && p[i + 2] == '{') {
          size_t close = p.find('}', i + 2);
          if (close == std::string::npos) throw TextError("pre-tokenizer regex: unclosed \\" + std::string(1, n) + "{ in " + p);
          out.append(p, i + 2, close - (i + 2) + 1);
          i = close - 1;
        }
      }
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      if (caseless_depth > 0 && std::isalpha(static_cast<unsigned char>(c))) {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        continue;
      }
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // literal ] first in a class
      continue;
    }
    if (c == '(') {
      if (p.compare(i, 4, "(?i:") == 0) {
        groups.push_back(true);
        ++caseless_depth;
        out += "(?:";
        i += 3;
        continue;
      }
      groups.push_back(false);
      out += c;
      continue;
    }
    if (c == ')') {
      if (!groups.empty()) {
        if (groups.back()) --caseless_depth;
        groups.pop_back();
      }
      out += c;
      continue;
    }
    if (caseless_depth > 0 && std::isalpha(static_cast<unsigned char>(c))) {
      out += '[';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out += ']';
      continue;
    }
    out += c;
  }
  return out;
}

struct SplitRegex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

SplitRegex::SplitRegex(const std::string& pattern) : impl_(std::make_unique<Impl>()), original_(pattern) {
  std::string translated = translate(pattern);
  int err = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw TextError("pre-tokenizer regex does not compile at offset " + std::to_string(offset) + ": " +
                      reinterpret_cast<char*>(msg) + " (pattern " + pattern + ")");
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

SplitRegex::~SplitRegex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void SplitRegex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  // One match-data block per thread and pattern: encode() runs on many threads at once.
  thread_local std::unordered_map<const void*, pcre2_match_data*> blocks;
  pcre2_match_data*& md = blocks[impl_->code];
  if (!md) md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, text.size(), pos, 0, md, nullptr)
                        : pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e == b) {
      // Empty match: step over one code point so the scan advances.
      if (b >= text.size()) break;
      size_t next = b + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
      pos = next;
      continue;
    }
    out.emplace_back(b, e);
    pos = e;
  }
}

}  // namespace r1::text
