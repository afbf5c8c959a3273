// Pre-tokenizer steps, applied in order; each step splits every piece left by the one before.
#include "text/pre_tokenizer.h"

#include <string>

#include "text/split_regex.h"
#include "text/unicode_text.h"

namespace r1::text {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const std::string& s) {
  if (s == "Removed") return Behavior::Removed;
  if (s == "Isolated") return Behavior::Isolated;
  if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::MergedWithNext;
  if (s == "Contiguous") return Behavior::Contiguous;
  throw TextError("tokenizer.json: pre_tokenizer Split behavior '" + s + "' is not one of Removed, Isolated, "
                    "MergedWithPrevious, MergedWithNext, Contiguous");
}

std::string escape_literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// GPT-2's split, used by ByteLevel when use_regex is true.
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

struct PreTokenizer::Step {
  std::unique_ptr<SplitRegex> regex;
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel

  // Splits one piece by the regex and the behavior.
  void apply(std::string_view text, const Piece& p, std::vector<Piece>& out,
             std::vector<std::pair<size_t, size_t>>& matches) const {
    Piece in = p;
    if (add_prefix_space && !in.prefix_space && (in.begin == in.end || text[in.begin] != ' ')) in.prefix_space = true;
    if (!regex) {
      out.push_back(in);
      return;
    }
    matches.clear();
    regex->find_all(text.substr(in.begin, in.end - in.begin), matches);
    // Segments: (begin, end, is_match) covering the piece.
    struct Seg {
      uint32_t b, e;
      bool match;
    };
    std::vector<Seg> segs;
    uint32_t pos = in.begin;
    for (const auto& [mb, me] : matches) {
      uint32_t b = in.begin + static_cast<uint32_t>(mb), e = in.begin + static_cast<uint32_t>(me);
      if (b > pos) segs.push_back({pos, b, invert});
      segs.push_back({b, e, !invert});
      pos = e;
    }
    if (pos < in.end) segs.push_back({pos, in.end, invert});
    size_t first_out = out.size();
    auto emit = [&](uint32_t b, uint32_t e) {
      if (e > b) out.push_back({b, e, false});
    };
    switch (behavior) {
      case Behavior::Isolated:
        for (const auto& s : segs) emit(s.b, s.e);
        break;
      case Behavior::Removed:
        for (const auto& s : segs)
          if (!s.match) emit(s.b, s.e);
        break;
      case Behavior::MergedWithPrevious: {
        bool have = false;
        for (const auto& s : segs) {
          if (s.match && have) out.back().end = s.e;
          else emit(s.b, s.e), have = true;
        }
        break;
      }
      case Behavior::MergedWithNext: {
        uint32_t pending = UINT32_MAX;
        for (const auto& s : segs) {
          if (s.match) {
            if (pending == UINT32_MAX) pending = s.b;
          } else {
            emit(pending == UINT32_MAX ? s.b : pending, s.e);
            pending = UINT32_MAX;
          }
        }
        if (pending != UINT32_MAX) emit(pending, in.end);
        break;
      }
      case Behavior::Contiguous: {
        bool last_match = false;
        for (const auto& s : segs) {
          if (s.match && last_match) out.back().end = s.e;
          else emit(s.b, s.e);
          last_match = s.match;
        }
        break;
      }
    }
    // The prefix space belongs to the first piece that came out of this one.
    if (in.prefix_space && out.size() > first_out) out[first_out].prefix_space = true;
    if (in.prefix_space && out.size() == first_out && in.begin == in.end) out.push_back(in);
  }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

static void add_steps(const Value& spec, std::vector<std::unique_ptr<PreTokenizer::Step>>& steps, bool& byte_level) {
  if (spec.is_null() || spec.is_undefined()) return;
  std::string type = spec.get_string("type", "tokenizer.json pre_tokenizer");
  auto step = std::make_unique<PreTokenizer::Step>();
  if (type == "Sequence") {
    for (const auto& s : spec["pretokenizers"].as_array()) add_steps(s, steps, byte_level);
    return;
  }
  if (type == "Split") {
    const Value& pat = spec["pattern"];
    std::string regex;
    if (pat["Regex"].is_string()) regex = pat["Regex"].as_string();
    else if (pat["String"].is_string()) regex = escape_literal(pat["String"].as_string());
    else throw TextError("tokenizer.json: Split pre-tokenizer needs pattern.Regex or pattern.String");
    step->regex = std::make_unique<SplitRegex>(regex);
    step->behavior = parse_behavior(spec.get_string("behavior", "tokenizer.json Split"));
    step->invert = spec["invert"].truthy();
  } else if (type == "ByteLevel") {
    byte_level = true;
    step->add_prefix_space = spec["add_prefix_space"].truthy();
    bool use_regex = spec["use_regex"].is_undefined() ? true : spec["use_regex"].truthy();
    if (use_regex) step->regex = std::make_unique<SplitRegex>(kGpt2Pattern);
  } else if (type == "Digits") {
    step->regex = std::make_unique<SplitRegex>(spec["individual_digits"].truthy() ? "\\p{N}" : "\\p{N}+");
  } else if (type == "Whitespace") {
    step->regex = std::make_unique<SplitRegex>("\\w+|[^\\w\\s]+");
    step->behavior = Behavior::Isolated;
    step->invert = false;
    // HF's Whitespace keeps only the matches.
    auto keep = std::make_unique<PreTokenizer::Step>();
    keep->regex = std::make_unique<SplitRegex>("\\s+");
    keep->behavior = Behavior::Removed;
    steps.push_back(std::move(keep));
  } else if (type == "WhitespaceSplit") {
    step->regex = std::make_unique<SplitRegex>("\\s+");
    step->behavior = Behavior::Removed;
  } else {
    throw TextError("tokenizer.json: pre-tokenizer type '" + type +
                      "' is not supported (supported: Sequence, Split, ByteLevel, Digits, Whitespace, WhitespaceSplit)");
  }
  steps.push_back(std::move(step));
}

PreTokenizer PreTokenizer::from_json(const Value& spec) {
  PreTokenizer p;
  add_steps(spec, p.steps_, p.byte_level_);
  return p;
}

void PreTokenizer::split(std::string_view text, uint32_t begin, uint32_t end, std::vector<Piece>& out) const {
  thread_local std::vector<Piece> a, b;
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  a.clear();
  a.push_back({begin, end, false});
  for (const auto& step : steps_) {
    b.clear();
    for (const Piece& p : a) step->apply(text, p, b, matches);
    std::swap(a, b);
  }
  for (const Piece& p : a)
    if (p.end > p.begin || p.prefix_space) out.push_back(p);
}

}  // namespace r1::text
