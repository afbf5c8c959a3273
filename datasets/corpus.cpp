// Worked solutions with controlled imperfection (see corpus.h).
#include "datasets/corpus.h"

#include <algorithm>
#include <cctype>
#include <random>

namespace r1::datasets {

namespace {

int64_t meta_int(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return 0;
  return std::stoll(json.substr(at + key.size() + 4));
}

// A string field of the generators' flat metadata ("" when absent).
std::string meta_string(const std::string& json, const std::string& key) {
  const std::string open = "\"" + key + "\": \"";
  size_t at = json.find(open);
  if (at == std::string::npos) return "";
  at += open.size();
  return json.substr(at, json.find('"', at) - at);
}

std::string wrap(const std::string& reasoning, const std::string& answer, bool r1_format, std::mt19937_64& rng) {
  if (r1_format) return " <think> " + reasoning + " </think> <answer> " + answer + " </answer>";
  switch (rng() % 3) {
    case 0: return " " + reasoning + " So the answer is " + answer + ".";
    case 1: return " <think> " + reasoning + " </think> The answer is " + answer + ".";
    default: return " Let me think. " + reasoning + " Answer: " + answer;
  }
}

}  // namespace

// The language of each step is drawn from its own stream, so mixing changes no other choice.
constexpr uint64_t kLanguageStream = 0x9E3779B97F4A7C15ull;

WorkedSolution worked_arithmetic(const Task& task, bool with_error, bool forget_carries, bool r1_format, uint64_t seed,
                                 bool mixed_language) {
  std::mt19937_64 rng(seed), language(seed ^ kLanguageStream);
  bool any_chinese = false;
  auto in_chinese = [&] { return mixed_language && language() % 2 == 0 && (any_chinese = true); };
  int64_t a = meta_int(task.metadata_json, "a"), b = meta_int(task.metadata_json, "b");
  std::string sa = std::to_string(a), sb = std::to_string(b);
  size_t width = std::max(sa.size(), sb.size());
  sa.insert(0, width - sa.size(), '0');
  sb.insert(0, width - sb.size(), '0');
  // Column addition from the right, each step written out: "7 + 5 = 12, write 2 carry 1."
  enum class Err { none, forget_carry, slip, miscopy };
  Err err = Err::none;
  if (with_error) err = rng() % 3 == 0 ? Err::miscopy : Err::slip;
  // The step where the mistake happens (a carry-in step for forget_carry when there is one).
  std::vector<size_t> carry_steps;
  {
    int carry = 0;
    for (size_t k = 0; k < width; ++k) {
      size_t i = width - 1 - k;
      if (carry) carry_steps.push_back(k);
      carry = ((sa[i] - '0') + (sb[i] - '0') + carry) >= 10;
    }
  }
  if (err == Err::forget_carry && carry_steps.empty()) err = Err::slip;
  size_t bad_step = err == Err::forget_carry ? carry_steps[rng() % carry_steps.size()] : rng() % width;
  std::string reasoning, digits;
  int carry = 0;
  for (size_t k = 0; k < width; ++k) {
    size_t i = width - 1 - k;
    int x = sa[i] - '0', y = sb[i] - '0';
    int c = carry;
    if ((err == Err::forget_carry && k == bad_step) || forget_carries) c = 0;
    int sum = x + y + c;
    if (err == Err::slip && k == bad_step) sum += (rng() % 2 == 0 || sum == 0) ? 1 : -1;
    const std::string terms = std::to_string(x) + " + " + std::to_string(y) + (c ? " + " + std::to_string(c) : "");
    int digit = sum % 10;
    carry = sum >= 10 ? 1 : 0;
    std::string step;
    if (in_chinese())  // "7 + 5 等于 12，写 2 进 1。"
      step = terms + " 等于 " + std::to_string(sum) + "，写 " + std::to_string(digit) + (carry ? " 进 1。" : "。");
    else
      step = terms + " = " + std::to_string(sum) + (carry ? ", write " + std::to_string(digit) + " carry 1." : ", write " + std::to_string(digit) + ".");
    reasoning += (k ? " " : "") + step;
    digits.insert(digits.begin(), static_cast<char>('0' + digit));
  }
  if (carry && !forget_carries) {
    reasoning += in_chinese() ? " 把进位 1 写下来。" : " Bring down the carry 1.";
    digits.insert(digits.begin(), '1');
  }
  while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
  std::string result = digits;
  // A mixed solution has at least one sentence in Chinese: the last, when none before was.
  reasoning += in_chinese() || (mixed_language && !any_chinese) ? " 所以 " + std::to_string(a) + " + " + std::to_string(b) + " = " + result + "。"
                                                      : " So " + std::to_string(a) + " + " + std::to_string(b) + " = " + result + ".";
  std::string answer = result;
  if (err == Err::miscopy) {
    // The reasoning is right; the final answer swaps two adjacent digits or drops one.
    if (answer.size() >= 2 && answer[0] != answer[1]) std::swap(answer[0], answer[1]);
    else answer = std::to_string(std::stoll(answer) + 10);
  }
  WorkedSolution w;
  w.completion = wrap(reasoning, answer, r1_format, rng);
  w.correct = answer == task.answer;
  w.r1_format = r1_format;
  w.mixed_language = mixed_language;
  return w;
}

WorkedSolution worked_countdown(const Task& task, bool with_error, bool r1_format, uint64_t seed, bool mixed_language) {
  std::mt19937_64 rng(seed);
  const std::string sol = meta_string(task.metadata_json, "solution");
  std::string reasoning = "We need to reach " + task.answer + ". Try " + sol + ".";
  std::string answer = sol;
  if (with_error) {
    // A plausible but wrong expression: one operator changed.
    size_t op = answer.find_first_of("+-*/");
    if (op != std::string::npos) answer[op] = answer[op] == '+' ? '-' : '+';
    reasoning = "We need to reach " + task.answer + ". Try " + answer + ".";
  }
  if (mixed_language) reasoning = "我们需要得到 " + task.answer + "。Try " + answer + ".";
  WorkedSolution w;
  w.completion = wrap(reasoning, answer, r1_format, rng);
  w.correct = !with_error;
  w.r1_format = r1_format;
  w.mixed_language = mixed_language;
  return w;
}

WorkedSolution worked_code(const Task& task, bool with_error, bool r1_format, uint64_t seed, bool mixed_language) {
  std::mt19937_64 rng(seed);
  const std::string expr = meta_string(task.metadata_json, "expr");
  std::string written = expr;
  if (with_error) {
    // One constant off by one: plausible code that fails the tests.
    std::vector<size_t> digits;
    for (size_t i = 0; i < written.size(); ++i)
      if (std::isdigit(static_cast<unsigned char>(written[i]))) digits.push_back(i);
    if (!digits.empty()) {
      char& d = written[digits[rng() % digits.size()]];
      d = d == '9' ? '8' : static_cast<char>(d + 1);
    }
  }
  // Step by step, building the expression ("Start from x. Add 6: x + 6. Multiply by 6: (x + 6) * 6.").
  const std::string steps = meta_string(task.metadata_json, "steps");
  std::string reasoning = mixed_language ? "从 x 开始。" : "Start from x.", built = "x";
  for (size_t from = 0; from < steps.size();) {
    size_t to = steps.find(' ', from);
    if (to == std::string::npos) to = steps.size();
    const char op = steps[from];
    const std::string n = steps.substr(from + 1, to - from - 1);
    if (op == '*' && built.find_first_of("+-") != std::string::npos) built = "(" + built + ")";
    built += std::string(" ") + op + " " + n;
    const std::string say = mixed_language ? (op == '+' ? "加 " : op == '-' ? "减 " : "乘以 ") + n + "：" + built + "。"
                                           : (op == '+' ? "Add " : op == '-' ? "Subtract " : "Multiply by ") + n + ": " + built + ".";
    reasoning += " " + say;
    from = to + 1;
  }
  reasoning += mixed_language ? " 所以 f 返回 " + written + "。" : " So f returns " + written + ".";
  const std::string code = "```python\ndef f(x):\n    return " + written + "\n```";
  WorkedSolution w;
  w.completion = wrap(reasoning, code, r1_format, rng);
  w.correct = written == expr;
  w.r1_format = r1_format;
  w.mixed_language = mixed_language;
  return w;
}

std::vector<WorkedSolution> worked_solutions(const std::vector<Task>& tasks, const CorpusOptions& o) {
  std::mt19937_64 rng(o.seed * 0x2545F4914F6CDD1Dull + 3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<WorkedSolution> out;
  out.reserve(tasks.size());
  for (const auto& t : tasks) {
    bool err = u(rng) < o.error_share, habit = u(rng) < o.habit_share, fmt = u(rng) < o.format_share;
    uint64_t s = rng();
    std::mt19937_64 language(s ^ kLanguageStream ^ 1);
    const bool mixed = o.mixed_language_share > 0 && u(language) < o.mixed_language_share;
    if (t.verifier == VerifierKind::code) out.push_back(worked_code(t, err, fmt, s, mixed));
    else if (t.verifier == VerifierKind::countdown) out.push_back(worked_countdown(t, err || habit, fmt, s, mixed));
    else out.push_back(worked_arithmetic(t, err, habit, fmt, s, mixed));
  }
  return out;
}

}  // namespace r1::datasets
