// The built-in reward functions (names as used in recipes; `r1 reward list` prints them).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "rewards/reward.h"
#include "verifiers/countdown.h"
#include "verifiers/math/math_verifier.h"

namespace r1::rewards {

namespace {

std::string between(const std::string& text, const std::string& open, const std::string& close, bool last = true) {
  size_t a = last ? text.rfind(open) : text.find(open);
  if (a == std::string::npos) return "";
  size_t b = text.find(close, a + open.size());
  if (b == std::string::npos) return "";
  return text.substr(a + open.size(), b - a - open.size());
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// ---- math_accuracy -----------------------------------------------------------------------

class MathAccuracy : public RewardFunction {
 public:
  explicit MathAccuracy(const RewardOptions& o) : correct_(o.number("correct")), incorrect_(o.number("incorrect")) {
    opts_.rel_tol = o.number("rel_tol");
    opts_.timeout_s = o.number("timeout_s");
    opts_.symbolic = o.boolean("symbolic");
    opts_.numeric_points = static_cast<int>(o.number("numeric_points"));
  }
  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    auto v = verifiers::math::verify(t.answer, c.text, opts_);
    return {v.equal ? correct_ : incorrect_,
            "{\"extracted\": " + json_quote(v.extracted_pred) + ", \"reason\": " + json_quote(v.reason) + "}", ""};
  }

 private:
  double correct_, incorrect_;
  verifiers::math::MathOptions opts_;
};

// ---- format ------------------------------------------------------------------------------

// R1's format: reasoning in <think>...</think>, then the answer in <answer>...</answer>.
const char* kR1Format = R"(^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$)";

class Format : public RewardFunction {
 public:
  explicit Format(const RewardOptions& o) : match_(o.number("match")), miss_(o.number("miss")) {
    std::string pattern = o.string("regex").empty() ? kR1Format : o.string("regex");
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(), PCRE2_DOTALL | PCRE2_UTF, &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw RewardError(o.where() + ": format regex does not compile at offset " + std::to_string(off) + ": " + reinterpret_cast<char*>(msg));
    }
    ctx_ = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(ctx_, 1'000'000);  // a pathological completion cannot hang the stage
  }
  ~Format() override {
    pcre2_match_context_free(ctx_);
    pcre2_code_free(code_);
  }
  RewardValue score(const TaskRef&, const CompletionRef& c) override {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(c.text.data()), c.text.size(), 0, 0, md, ctx_);
    pcre2_match_data_free(md);
    if (rc == PCRE2_ERROR_MATCHLIMIT) return {miss_, "{\"matched\": false, \"note\": \"match limit\"}", ""};
    bool ok = rc >= 0;
    return {ok ? match_ : miss_, ok ? "{\"matched\": true}" : "{\"matched\": false}", ""};
  }

 private:
  double match_, miss_;
  pcre2_code* code_ = nullptr;
  pcre2_match_context* ctx_ = nullptr;
};

// ---- tag_count (Open-R1) -----------------------------------------------------------------

class TagCount : public RewardFunction {
 public:
  explicit TagCount(const RewardOptions& o) : newlines_(o.boolean("newlines")) {}
  RewardValue score(const TaskRef&, const CompletionRef& c) override {
    auto count = [&](const std::string& s) {
      size_t n = 0;
      for (size_t at = c.text.find(s); at != std::string::npos; at = c.text.find(s, at + 1)) ++n;
      return n;
    };
    double v = 0;
    if (newlines_) {
      v += 0.25 * (count("<think>\n") == 1) + 0.25 * (count("\n</think>\n") == 1) + 0.25 * (count("\n<answer>\n") == 1) +
           0.25 * (count("\n</answer>") == 1);
    } else {
      v += 0.25 * (count("<think>") == 1) + 0.25 * (count("</think>") == 1) + 0.25 * (count("<answer>") == 1) +
           0.25 * (count("</answer>") == 1);
    }
    return {v, "{}", ""};
  }

 private:
  bool newlines_;
};

// ---- language_consistency (R1) -------------------------------------------------------------

class LanguageConsistency : public RewardFunction {
 public:
  explicit LanguageConsistency(const RewardOptions& o) : target_(o.string("language")) {
    if (target_ != "en" && target_ != "zh") throw RewardError(o.where() + ": language must be \"en\" or \"zh\"");
  }
  RewardValue score(const TaskRef&, const CompletionRef& c) override {
    std::string cot = between(c.text, "<think>", "</think>");
    if (cot.empty()) cot = c.text;
    // Latin words count once each; every CJK character is a word (Chinese has no spaces).
    int64_t latin = 0, cjk = 0;
    bool in_word = false;
    for (size_t i = 0; i < cot.size();) {
      unsigned char ch = cot[i];
      if (ch < 0x80) {
        bool letter = std::isalpha(ch);
        if (letter && !in_word) ++latin;
        in_word = letter;
        ++i;
        continue;
      }
      in_word = false;
      int len = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
      uint32_t cp = 0;
      if (len == 3 && i + 2 < cot.size()) cp = ((ch & 0x0F) << 12) | ((cot[i + 1] & 0x3F) << 6) | (cot[i + 2] & 0x3F);
      if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x3040 && cp <= 0x30FF)) ++cjk;
      i += len;
    }
    int64_t total = latin + cjk;
    double share = total == 0 ? 0.0 : static_cast<double>(target_ == "en" ? latin : cjk) / static_cast<double>(total);
    return {share, "{\"words\": " + std::to_string(total) + "}", ""};
  }

 private:
  std::string target_;
};

// ---- overlong (DAPO soft overlong punishment) ------------------------------------------------

class Overlong : public RewardFunction {
 public:
  explicit Overlong(const RewardOptions& o) : max_len_(o.integer("max_len")), cache_len_(o.integer("cache_len")) {
    if (max_len_ <= 0 || cache_len_ <= 0 || cache_len_ > max_len_)
      throw RewardError(o.where() + ": overlong needs 0 < cache_len <= max_len");
  }
  RewardValue score(const TaskRef&, const CompletionRef& c) override { return {value(c.tokens), "{}", ""}; }
  double value(int64_t y) const {
    const int64_t expected = max_len_ - cache_len_;
    if (y <= expected) return 0.0;
    if (y <= max_len_) return static_cast<double>(expected - y) / static_cast<double>(cache_len_);
    return -1.0;
  }

 private:
  int64_t max_len_, cache_len_;
};

// ---- countdown (TinyZero) -------------------------------------------------------------------

class Countdown : public RewardFunction {
 public:
  explicit Countdown(const RewardOptions& o) : score_(o.number("score")), format_score_(o.number("format_score")) {}
  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    std::vector<int64_t> numbers = json_int_array(t.metadata_json, "numbers");
    if (numbers.empty()) return {0, "{}", "task has no metadata.numbers (not a Countdown task)"};
    int64_t target = 0;
    try {
      target = std::stoll(t.answer);
    } catch (...) {
      return {0, "{}", "task answer is not an integer target"};
    }
    std::string ans = trim(between(c.text, "<answer>", "</answer>"));
    if (ans.empty()) return {0.0, "{\"answer\": null}", ""};
    auto r = verifiers::check_countdown(ans, numbers, target);
    double v = r == verifiers::CountdownResult::correct ? score_ : format_score_;
    return {v, "{\"answer\": " + json_quote(ans) + ", \"verdict\": \"" + verifiers::to_string(r) + "\"}", ""};
  }

 private:
  double score_, format_score_;
};

// ---- exact_match --------------------------------------------------------------------------

// Tasks whose reference is a literal string (verifier "exact"): the completion contains it.
class ExactMatch : public RewardFunction {
 public:
  explicit ExactMatch(const RewardOptions& o) : match_(o.number("match")), miss_(o.number("miss")) {}
  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    bool ok = !t.answer.empty() && c.text.find(t.answer) != std::string::npos;
    return {ok ? match_ : miss_, ok ? "{\"matched\": true}" : "{\"matched\": false}", ""};
  }

 private:
  double match_, miss_;
};

// ---- length / repetition penalties ---------------------------------------------------------

class LengthPenalty : public RewardFunction {
 public:
  explicit LengthPenalty(const RewardOptions& o) : target_(o.integer("target")), max_len_(o.integer("max_len")), scale_(o.number("scale")) {
    if (max_len_ <= target_) throw RewardError(o.where() + ": length needs max_len > target");
  }
  RewardValue score(const TaskRef&, const CompletionRef& c) override {
    double over = std::max<int64_t>(0, c.tokens - target_);
    return {-scale_ * std::min(1.0, over / static_cast<double>(max_len_ - target_)), "{}", ""};
  }

 private:
  int64_t target_, max_len_;
  double scale_;
};

class Repetition : public RewardFunction {
 public:
  explicit Repetition(const RewardOptions& o) : n_(o.integer("ngram_size")), max_penalty_(o.number("max_penalty")) {
    if (n_ < 1) throw RewardError(o.where() + ": ngram_size must be at least 1");
  }
  RewardValue score(const TaskRef&, const CompletionRef& c) override {
    // Open-R1: 1 - distinct n-grams / total n-grams, scaled by max_penalty (<= 0), over words.
    std::vector<std::string> words;
    std::string w;
    for (char ch : c.text + " ") {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        if (!w.empty()) words.push_back(w);
        w.clear();
      } else {
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
    if (static_cast<int64_t>(words.size()) < n_) return {0.0, "{}", ""};
    std::set<std::vector<std::string>> distinct;
    int64_t total = 0;
    for (size_t i = 0; i + n_ <= words.size(); ++i, ++total) distinct.insert(std::vector<std::string>(words.begin() + i, words.begin() + i + n_));
    double scaling = 1.0 - static_cast<double>(distinct.size()) / static_cast<double>(total);
    return {scaling * max_penalty_, "{}", ""};
  }

 private:
  int64_t n_;
  double max_penalty_;
};

template <class T>
std::function<std::unique_ptr<RewardFunction>(const RewardOptions&)> maker() {
  return [](const RewardOptions& o) { return std::make_unique<T>(o); };
}

}  // namespace

const std::vector<BuiltinReward>& builtin_rewards() {
  static const std::vector<BuiltinReward> kAll = {
      {"math_accuracy", "the math verifier: `correct` if the final answer is equivalent to the reference, else `incorrect`",
       {{"correct", "number", "1.0", "value of an equivalent answer"},
        {"incorrect", "number", "0.0", "value of any other answer"},
        {"rel_tol", "number", "1e-06", "relative tolerance of numeric comparison"},
        {"symbolic", "bool", "true", "decide gold - pred = 0 symbolically before comparing numerically"},
        {"numeric_points", "number", "8", "seeded random points an identity in free variables is checked at"},
        {"timeout_s", "number", "1.0", "time limit of one check"}},
       maker<MathAccuracy>()},
      {"accuracy", "R1's rule-based accuracy for mixed domains: each task decided by its own kind's verifier (math_accuracy, code_tests in the sandbox, countdown, exact_match)",
       {{"time_limit_s", "number", "2.0", "code tasks: CPU time limit per test"},
        {"lang", "string", "\"python\"", "code tasks: python | cpp, when the code fence names no language"}},
       make_task_accuracy_reward},
      {"format", "R1's format: reasoning in <think>...</think>, then <answer>...</answer> (or `regex`)",
       {{"regex", "string", "\"\"", "custom pattern (PCRE2, dot matches newline); empty = R1's"},
        {"match", "number", "1.0", "value when the completion matches"},
        {"miss", "number", "0.0", "value otherwise"}},
       maker<Format>()},
      {"tag_count", "Open-R1's partial credit: 0.25 per think/answer tag appearing exactly once",
       {{"newlines", "bool", "true", "require Open-R1's newlines around the tags"}},
       maker<TagCount>()},
      {"language_consistency", "R1: the share of chain-of-thought words in the target language",
       {{"language", "string", "\"en\"", "en | zh"}},
       maker<LanguageConsistency>()},
      {"overlong", "DAPO's soft overlong punishment: 0 up to max_len - cache_len, linear to -1 at max_len, -1 beyond",
       {{"max_len", "integer", "4096", "L_max in tokens"}, {"cache_len", "integer", "512", "L_cache in tokens"}},
       maker<Overlong>()},
      {"countdown", "TinyZero: 0 without an <answer>, format_score if wrong or numbers misused, score if it equals the target",
       {{"score", "number", "1.0", "value of a correct equation"},
        {"format_score", "number", "0.1", "value of a formatted but wrong answer"}},
       maker<Countdown>()},
      {"exact_match", "the completion contains the task's reference text (verifier \"exact\")",
       {{"match", "number", "1.0", "value when it does"}, {"miss", "number", "0.0", "value when it does not"}},
       maker<ExactMatch>()},
      {"length", "linear penalty past `target` tokens, reaching -scale at max_len",
       {{"target", "integer", "512", "tokens before the penalty starts"},
        {"max_len", "integer", "1024", "tokens at which the penalty is full"},
        {"scale", "number", "1.0", "full penalty"}},
       maker<LengthPenalty>()},
      {"code_tests", "R1's code reward: the last fenced code block run in the sandbox against the task's tests",
       {{"lang", "string", "\"python\"", "python | cpp, when the code fence names no language"},
        {"partial", "bool", "false", "reward the share of tests passed instead of all-or-nothing"},
        {"time_limit_s", "number", "2.0", "CPU time limit per test"},
        {"memory_mb", "integer", "256", "memory limit per test"},
        {"no_code", "number", "0.0", "value of a completion without a code block"}},
       make_code_tests_reward},
      {"repetition", "Open-R1's n-gram repetition penalty: (1 - distinct/total n-grams) x max_penalty",
       {{"ngram_size", "integer", "3", "words per n-gram"}, {"max_penalty", "number", "-1.0", "penalty of a fully repetitive text (<= 0)"}},
       maker<Repetition>()},
  };
  return kAll;
}

}  // namespace r1::rewards
