// verify(): extraction -> parsing -> equivalence, with the reasons recorded.
#include "verifiers/math/math_verifier.h"

#include <algorithm>

#include "verifiers/math/answer_extract.h"
#include "verifiers/math/math_compare.h"
#include "verifiers/math/math_parser.h"

namespace r1::verifiers::math {

namespace {

struct Parsed {
  ExprPtr expr;
  Candidate cand;
};

// The first candidate (in priority order) that parses.
std::optional<Parsed> first_parsed(const std::vector<Candidate>& cands, const MathOptions& o, std::vector<std::string>& steps,
                                   const char* who) {
  for (const auto& c : cands) {
    ParseOptions po;
    po.plain_text = c.plain;
    po.fix_malformed = o.fix_malformed;
    std::string err;
    ExprPtr e = parse_answer(c.text, po, &err);
    // Prose is not an answer: a sentence or phrase candidate that parses into words is skipped.
    if (e && (c.source == "whole" || c.source == "final-answer" || c.source == "latex") && contains_kind(e, Expr::Kind::Text) &&
        e->kind != Expr::Kind::Text) {
      steps.push_back(std::string(who) + ": " + c.source + " \"" + c.text + "\" is prose, skipped");
      continue;
    }
    if (e) {
      steps.push_back(std::string(who) + ": " + c.source + " \"" + c.text + "\" -> " + to_string(e));
      return Parsed{e, c};
    }
    steps.push_back(std::string(who) + ": " + c.source + " \"" + c.text + "\" does not parse (" + err + ")");
    if (o.first_match) break;
  }
  return std::nullopt;
}

std::string squash(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '$') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && (out.back() == '.' || out.back() == ',')) out.pop_back();
  return out;
}

}  // namespace

Verdict verify(const std::string& gold, const std::string& response, const MathOptions& options) {
  Verdict v;
  MathOptions o = options;
  auto gold_cands = extract_candidates(gold, o, /*reference=*/true);
  // A single-letter reference (A-E, "(C)", "\text{C}") asks for a multiple-choice letter.
  if (!o.string_extraction && !gold_cands.empty()) {
    std::string g = gold_cands.front().text;
    std::string letters;
    for (char c : g)
      if (std::isalpha(static_cast<unsigned char>(c))) letters += c;
    bool letter_gold = letters.size() == 1 && std::string("ABCDE").find(letters[0]) != std::string::npos &&
                       g.find_first_of("0123456789") == std::string::npos &&
                       (g.size() <= 3 || g.find("text") != std::string::npos);
    if (letter_gold && squash(response).size() > 1 && response.find("\\boxed") == std::string::npos &&
        response.find('$') == std::string::npos) {
      MathOptions mc = o;
      mc.string_extraction = true;
      auto pc = extract_candidates(response, mc);
      v.extracted_gold = letters;
      if (pc.empty()) {
        v.reason = "no choice letter in the response";
        return v;
      }
      v.extracted_pred = pc.front().text;
      v.equal = std::toupper(static_cast<unsigned char>(v.extracted_pred[0])) == letters[0];
      v.reason = v.equal ? "same choice" : "different choice";
      return v;
    }
  }
  if (o.string_extraction) {
    auto gc = gold_cands.empty() ? std::vector<Candidate>{} : std::vector<Candidate>{gold_cands.back()};
    MathOptions mc = o;
    auto pc = extract_candidates(response, mc);
    v.extracted_gold = gold;
    if (pc.empty()) {
      v.reason = "no choice found in the response";
      return v;
    }
    v.extracted_pred = pc.front().text;
    auto norm = [&](std::string s) {
      if (o.lowercase_choices) std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      return squash(s);
    };
    v.equal = norm(v.extracted_pred) == norm(gold);
    v.reason = v.equal ? "same choice" : "different choice";
    return v;
  }
  auto pred_cands = extract_candidates(response, o);
  if (pred_cands.empty()) {
    v.reason = "no answer found in the response";
    return v;
  }
  auto g = first_parsed(gold_cands, o, v.steps, "reference");
  auto p = first_parsed(pred_cands, o, v.steps, "answer");
  v.extracted_gold = g ? g->cand.text : (gold_cands.empty() ? gold : gold_cands.front().text);
  v.extracted_pred = p ? p->cand.text : pred_cands.front().text;
  if (g && p) {
    v.normalized_gold = to_string(g->expr);
    v.normalized_pred = to_string(p->expr);
    CompareContext ctx{o, Budget{std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(o.timeout_s * 1e6))}, {}};
    v.equal = equivalent(g->expr, p->expr, ctx);
    v.reason = ctx.reason;
    v.steps.push_back("compare: " + ctx.reason);
    if (v.equal) return v;
  }
  // Fall back to the texts themselves (answers we cannot parse, such as names or base-n numerals).
  if (o.text_fallback && squash(v.extracted_gold) == squash(v.extracted_pred) && !squash(v.extracted_gold).empty()) {
    v.equal = true;
    v.reason = "same text";
    v.steps.push_back("compare: same text");
    return v;
  }
  if (!g) v.reason = v.reason.empty() ? "the reference does not parse" : v.reason;
  else if (!p) v.reason = "the answer does not parse";
  return v;
}

}  // namespace r1::verifiers::math
