// Extractors, in priority order; each returns the last (right-most) match in the text.
#include "verifiers/math/answer_extract.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace r1::verifiers::math {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The balanced {...} group starting at text[open] == '{'; npos when unbalanced.
size_t group_end(const std::string& t, size_t open) {
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == '{' || t[i + 1] == '}')) {
      ++i;
      continue;
    }
    if (t[i] == '{') ++depth;
    else if (t[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

struct Boxed {
  size_t begin, end;  // of the whole \boxed{...}
  std::string inside;
};

std::vector<Boxed> all_boxed(const std::string& t) {
  std::vector<Boxed> out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\') continue;
    size_t len = t.compare(i, 6, "\\boxed") == 0 ? 6 : t.compare(i, 5, "\\fbox") == 0 ? 5 : 0;
    if (!len) continue;
    size_t j = i + len;
    while (j < t.size() && t[j] == ' ') ++j;
    if (j < t.size() && t[j] == '{') {
      size_t e = group_end(t, j);
      if (e == std::string::npos) continue;
      out.push_back({i, e + 1, t.substr(j + 1, e - j - 1)});
      i = e;
    } else if (j < t.size() && len == 6) {
      // "\boxed 5": up to the next space or '$'.
      size_t e = j;
      while (e < t.size() && !std::isspace(static_cast<unsigned char>(t[e])) && t[e] != '$') ++e;
      out.push_back({i, e, t.substr(j, e - j)});
      i = e;
    }
  }
  return out;
}

// Text between two boxed answers that still reads as one answer: nothing, punctuation, or a
// short phrase with "and"/"or" ("\quad \text{and} \quad", "papers and", "for part (a) and").
bool joins_boxed(std::string gap) {
  for (const char* w : {"\\quad", "\\qquad", "\\text", "\\,", "\\;", "\\(", "\\)", "\\[", "\\]", "$", "{", "}", "\\mbox"}) {
    for (size_t at; (at = gap.find(w)) != std::string::npos;) gap.erase(at, std::string(w).size());
  }
  gap = trim(gap);
  bool letters = false;
  for (char c : gap) letters = letters || std::isalnum(static_cast<unsigned char>(c));
  if (!letters) return true;  // nothing but punctuation ("," "++++")
  if (gap.size() > 40) return false;
  std::string padded = " " + gap + " ";
  for (auto& c : padded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return padded.find(" and ") != std::string::npos || padded.find(" or ") != std::string::npos;
}

std::vector<Candidate> latex_environments(const std::string& t) {
  // $$...$$, \[...\], \(...\), $...$ (inline ones may not span lines). Right-most last.
  struct Hit {
    size_t pos;
    std::string inside;
  };
  std::vector<Hit> hits;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.compare(i, 2, "$$") == 0) {
      size_t e = t.find("$$", i + 2);
      if (e == std::string::npos) break;
      hits.push_back({i, t.substr(i + 2, e - i - 2)});
      i = e + 1;
    } else if (t.compare(i, 2, "\\[") == 0 || t.compare(i, 2, "\\(") == 0) {
      const char* close = t[i + 1] == '[' ? "\\]" : "\\)";
      size_t e = t.find(close, i + 2);
      if (e == std::string::npos) continue;
      std::string in = t.substr(i + 2, e - i - 2);
      if (t[i + 1] == '(' && in.find('\n') != std::string::npos) {
        i = e + 1;
        continue;
      }
      hits.push_back({i, in});
      i = e + 1;
    } else if (t[i] == '$' && (i == 0 || t[i - 1] != '\\')) {
      size_t e = i + 1;
      while (e < t.size() && !(t[e] == '$' && t[e - 1] != '\\')) ++e;
      if (e >= t.size()) break;
      std::string in = t.substr(i + 1, e - i - 1);
      if (in.find('\n') == std::string::npos) hits.push_back({i, in});
      i = e;
    }
  }
  std::vector<Candidate> out;
  // "$1$ and $2$ and $3$": consecutive math joined by connectors is one answer.
  if (hits.size() >= 2) {
    size_t last = hits.size() - 1, first = last;
    auto end_of = [&](size_t k) { return t.find(hits[k].inside, hits[k].pos) + hits[k].inside.size() + 1; };
    while (first > 0) {
      size_t gap_begin = end_of(first - 1);
      if (gap_begin > hits[first].pos) break;
      std::string gap = t.substr(gap_begin, hits[first].pos - gap_begin);
      std::string padded = " ";  // appended, not " " + ...: GCC 12 warns (-Wrestrict) on that
      padded += trim(gap);
      padded += ' ';
      if (trim(gap).size() > 12 || (padded.find(" and ") == std::string::npos && padded.find(" or ") == std::string::npos)) break;
      --first;
    }
    if (first < last) {
      std::string joined;
      for (size_t k = first; k <= last; ++k) joined += (k > first ? ", " : "") + trim(hits[k].inside);
      out.push_back({joined, false, "latex", 100, end_of(last) + 1});
    }
  }
  // Ordered by where each ends: a number inside $...$ never outranks the math around it.
  for (auto it = hits.rbegin(); it != hits.rend(); ++it)
    if (!trim(it->inside).empty()) out.push_back({trim(it->inside), false, "latex", 100, t.find(it->inside, it->pos) + it->inside.size() + 1});
  return out;
}

// "final answer is X", "the answer is X", "answer: X". X runs to the end of the sentence/line.
std::vector<Candidate> answer_phrases(const std::string& t) {
  std::string low = t;
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<Candidate> out;
  std::vector<std::pair<size_t, size_t>> spans;  // (phrase start, answer start)
  for (size_t at = low.find("answer"); at != std::string::npos; at = low.find("answer", at + 6)) {
    if (at > 0 && std::isalpha(static_cast<unsigned char>(low[at - 1]))) continue;
    size_t k = at + 6;
    if (k < low.size() && std::isalpha(static_cast<unsigned char>(low[k]))) continue;  // "answers", "answered"
    while (k < low.size() && (low[k] == ' ' || low[k] == '\t')) ++k;
    if (low.compare(k, 2, "is") == 0 && (k + 2 >= low.size() || !std::isalpha(static_cast<unsigned char>(low[k + 2])))) k += 2;
    else if (k < low.size() && (low[k] == ':' || low[k] == '=')) ++k;
    else if (!(at >= 6 && low.compare(at - 6, 6, "final ") == 0)) continue;  // "answer" alone must be "final answer"
    while (k < low.size() && (low[k] == ' ' || low[k] == ':' || low[k] == '\t')) ++k;
    size_t start = at >= 6 && low.compare(at - 6, 6, "final ") == 0 ? at - 6 : (at >= 4 && low.compare(at - 4, 4, "the ") == 0 ? at - 4 : at);
    spans.emplace_back(start, k);
  }
  for (auto sp = spans.rbegin(); sp != spans.rend(); ++sp) {
    size_t start = sp->second;
    if (start >= t.size()) continue;
    std::string rest = t.substr(start, 2000);
    // Math after the phrase: a $...$ group, a \boxed, or text to the end of the sentence.
    size_t stop = rest.find('\n');
    std::string line = rest.substr(0, stop);
    std::string x;
    if (!line.empty() && (line[0] == '$' || line.compare(0, 2, "\\(") == 0 || line.compare(0, 2, "\\[") == 0)) {
      auto envs = latex_environments(line);
      if (!envs.empty()) x = envs.back().text;  // the first one after the phrase
    }
    if (x.empty()) {
      size_t end = line.find(". ");
      if (end == std::string::npos) end = line.find(" I hope");
      x = trim(line.substr(0, end));
      while (!x.empty() && (x.back() == '.' || x.back() == '"')) x.pop_back();
      if (!x.empty() && x.front() == '"') x.erase(0, 1);
    }
    // "The largest $n$ is 34": the answer follows the last " is ".
    size_t is = x.rfind(" is ");
    if (is != std::string::npos) x = x.substr(is + 4);
    std::string phrase = low.substr(sp->first, sp->second - sp->first);
    bool final = phrase.rfind("final", 0) == 0;
    if (!trim(x).empty())
      out.push_back({trim(x), x.find('\\') == std::string::npos && x.find('$') == std::string::npos, "final-answer", final ? 0 : 50, sp->first});
  }
  return out;
}

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

size_t digits_from(const std::string& t, size_t i) {
  while (i < t.size() && digit(t[i])) ++i;
  return i;
}

// Numbers (and simple fractions / mixed numbers / percentages) in prose, right-most first. A
// hand-written scanner: std::regex recurses per character and overflows the stack on long input.
std::vector<Candidate> numbers_in_text(const std::string& t) {
  std::vector<Candidate> out;
  for (size_t i = 0; i < t.size();) {
    size_t start = i;
    bool sign = (t[i] == '-' || t[i] == '+') && i + 1 < t.size() && (digit(t[i + 1]) || t[i + 1] == '.');
    size_t j = sign ? i + 1 : i;
    bool begins = j < t.size() && (digit(t[j]) || (t[j] == '.' && j + 1 < t.size() && digit(t[j + 1])));
    char prev = start > 0 ? t[start - 1] : ' ';
    if (!begins || alnum(prev) || prev == '_' || (prev == '.' && !sign)) {
      ++i;
      continue;
    }
    size_t e = digits_from(t, j);
    // Thousands groups: 1,000,000 or 1 000 000 (exactly three digits each).
    if (e - j <= 3 && e > j) {
      while (e + 3 < t.size() + 1 && (t[e] == ',' || t[e] == ' ') && e + 3 < t.size() + 0 + 1 && digit(t[e + 1]) &&
             digits_from(t, e + 1) == e + 4)
        e += 4;
    }
    if (e + 1 < t.size() && (t[e] == '.' || t[e] == ',') && digit(t[e + 1])) e = digits_from(t, e + 1);
    // Mixed number "4 4/9" (same line), then "/ 9" fractions.
    if (e + 1 < t.size() && (t[e] == ' ' || t[e] == '\t')) {
      size_t k = e;
      while (k < t.size() && (t[k] == ' ' || t[k] == '\t')) ++k;
      size_t n1 = digits_from(t, k);
      if (n1 > k && n1 + 1 < t.size() && t[n1] == '/' && digit(t[n1 + 1])) e = digits_from(t, n1 + 1);
    }
    {
      size_t k = e;
      while (k < t.size() && t[k] == ' ') ++k;
      if (k < t.size() && t[k] == '/') {
        ++k;
        while (k < t.size() && t[k] == ' ') ++k;
        size_t n2 = digits_from(t, k);
        if (n2 > k) {
          e = n2;
          if (e + 1 < t.size() && t[e] == '.' && digit(t[e + 1])) e = digits_from(t, e + 1);
        }
      }
    }
    if (e < t.size() && digit(t[e])) {
      i = e;
      continue;
    }
    // Percent suffix.
    {
      size_t k = e;
      while (k < t.size() && t[k] == ' ') ++k;
      for (const char* w : {"%", "percentage", "percent", "pct"}) {
        size_t n = std::strlen(w);
        if (t.compare(k, n, w) == 0) {
          e = k + n;
          break;
        }
      }
    }
    out.push_back({trim(t.substr(start, e - start)), true, "number", 100, e});
    i = e;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Candidate> choice_letters(const std::string& t, const MathOptions& o) {
  std::vector<std::string> choices = o.choices;
  if (choices.empty()) choices = {"A", "B", "C", "D", "E"};
  auto is_choice = [&](char l) {
    for (const auto& c : choices)
      if (c.size() == 1 && (c[0] == l || (o.lowercase_choices && std::tolower(c[0]) == std::tolower(l)))) return true;
    return false;
  };
  auto standalone = [&](size_t i) {
    return std::isalpha(static_cast<unsigned char>(t[i])) && (i == 0 || !std::isalpha(static_cast<unsigned char>(t[i - 1]))) &&
           (i + 1 >= t.size() || !std::isalpha(static_cast<unsigned char>(t[i + 1])));
  };
  std::vector<Candidate> out;
  // "answer is (B)" first, then the first standalone choice letter ("A. Because B is not valid" answers A).
  std::string low = t;
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t at = low.rfind("answer"); at != std::string::npos;) {
    size_t k = at + 6;
    while (k < t.size() && (t[k] == ' ' || t[k] == ':' || t[k] == '(' || low.compare(k, 2, "is") == 0)) k += low.compare(k, 2, "is") == 0 ? 2 : 1;
    if (k < t.size() && standalone(k) && is_choice(t[k])) {
      out.push_back({std::string(1, t[k]), true, "choice"});
      break;
    }
    if (at == 0) break;
    at = low.rfind("answer", at - 1);
  }
  for (size_t i = 0; i < t.size(); ++i)
    if (standalone(i) && is_choice(t[i]) && (o.lowercase_choices || std::isupper(static_cast<unsigned char>(t[i])))) {
      out.push_back({std::string(1, t[i]), true, "choice"});
      break;
    }
  return out;
}

// Math written in plain text: "11 + 4/9", "4 4/9", "[1,2)", "3, 5", "0 < x < 1", "x^2+1". No words of
// three letters or more (except function names), and no two numbers side by side ("4 4/9 2"),
// but for the one mixed number "a b/c".
bool plain_math(const std::string& w) {
  if (w.empty() || w.find('\n') != std::string::npos) return false;
  static const char* kFunctions[] = {"sin", "cos", "tan", "sec", "csc", "cot", "log", "exp", "sqrt", "pi", "ln", "inf"};
  bool last_number = false, mixed_used = false;
  for (size_t i = 0; i < w.size();) {
    char c = w[i];
    if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t e = i;
      while (e < w.size() && std::isalpha(static_cast<unsigned char>(w[e]))) ++e;
      std::string word = w.substr(i, e - i);
      bool fn = false;
      for (const char* f : kFunctions) fn = fn || word == f;
      if (word.size() >= 3 && !fn) return false;
      last_number = false;
      i = e;
      continue;
    }
    if (digit(c) || (c == '.' && i + 1 < w.size() && digit(w[i + 1]))) {
      size_t e = i;
      while (e < w.size() && (digit(w[e]) || w[e] == '.')) ++e;
      if (last_number) {
        // Only "a b/c" may put two numbers side by side.
        if (mixed_used || !(e < w.size() && w[e] == '/')) return false;
        mixed_used = true;
      }
      last_number = true;
      i = e;
      continue;
    }
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80 || std::string("+-*/^()[],;=<>!%|.'").find(c) == std::string::npos) return false;
    last_number = false;
    ++i;
  }
  return true;
}

}  // namespace

std::string last_boxed(const std::string& text) {
  auto boxes = all_boxed(text);
  if (boxes.empty()) return "";
  // Join the trailing run of boxed answers separated only by connectors.
  size_t first = boxes.size() - 1;
  while (first > 0 && joins_boxed(text.substr(boxes[first - 1].end, boxes[first].begin - boxes[first - 1].end))) --first;
  std::string joined;
  for (size_t i = first; i < boxes.size(); ++i) joined += (i > first ? ", " : "") + boxes[i].inside;
  return joined;
}

std::vector<Candidate> extract_candidates(const std::string& text_in, const MathOptions& o, bool reference) {
  std::vector<Candidate> out;
  std::string text = text_in;
  // <answer>...</answer>: only its content is considered (R1 format).
  size_t a = text.rfind("<answer>");
  if (a != std::string::npos) {
    size_t e = text.find("</answer>", a);
    std::string inner = text.substr(a + 8, e == std::string::npos ? std::string::npos : e - a - 8);
    if (!trim(inner).empty()) text = inner;
  } else {
    // Reasoning inside <think> is not the answer when something follows it.
    size_t t = text.rfind("</think>");
    if (t != std::string::npos && !trim(text.substr(t + 8)).empty()) text = text.substr(t + 8);
  }
  if (o.string_extraction) {
    for (auto& c : choice_letters(text, o)) out.push_back(c);
    return out;
  }
  if (o.boxed_priority < 0)
    for (auto b = all_boxed(text); !b.empty(); b = all_boxed(text)) text.erase(b.back().begin, b.back().end - b.back().begin);
  std::vector<Candidate> all;
  if (o.latex_extraction) {
    if (o.boxed_priority >= 0) {
      auto boxes = all_boxed(text);
      std::string b = last_boxed(text);
      if (!trim(b).empty()) all.push_back({trim(b), false, "boxed", o.boxed_priority, boxes.back().end});
    }
    for (auto& c : answer_phrases(text)) all.push_back(c);
    for (auto& c : latex_environments(text)) all.push_back(c);
  }
  size_t g = text.rfind("####");
  if (g != std::string::npos && !trim(text.substr(g + 4)).empty()) all.push_back({trim(text.substr(g + 4)), true, "gsm8k", 0, g});
  // The whole text, when short, is itself a candidate answer ("10/9", "-5").
  std::string whole = trim(text);
  bool latexish = whole.find_first_of("\\^{}$=<>") != std::string::npos;
  latexish = latexish || (whole.size() <= 200 && plain_math(whole)) || (reference && whole.size() <= 100);
  if (!whole.empty() && whole.size() <= 200 && whole.find('\n') == std::string::npos && (latexish || whole.find(' ') == std::string::npos))
    all.push_back({whole, whole.find('\\') == std::string::npos && whole.find('$') == std::string::npos, "whole", 100, text.size() + 2});
  if (o.expr_extraction)
    for (auto& c : numbers_in_text(text)) all.push_back(c);
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.pos > b.pos;
  });
  out.insert(out.end(), all.begin(), all.end());
  return out;
}

std::vector<std::string> extract_answers(const std::string& text, const MathOptions& options) {
  std::vector<std::string> out;
  for (const auto& c : extract_candidates(text, options)) out.push_back(c.text);
  return out;
}

}  // namespace r1::verifiers::math
