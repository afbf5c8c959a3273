#include "rl/rejection_sampling.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "rewards/reward.h"
#include "rl/evaluation.h"

namespace r1::rl {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

double parse_number(const std::string& rule, const std::string& text, double lo, double hi) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(v >= lo && v <= hi)) {
    std::ostringstream os;
    os << "--keep " << rule << ": expected a number in [" << lo << ", " << hi << "], got \"" << text << "\"";
    throw std::invalid_argument(os.str());
  }
  return v;
}

int64_t parse_count(const std::string& rule, const std::string& text) {
  const double v = parse_number(rule, text, 1, 1e12);
  if (v != std::floor(v)) throw std::invalid_argument("--keep " + rule + ": expected a whole number, got \"" + text + "\"");
  return static_cast<int64_t>(v);
}

// Whitespace runs collapsed and the ends trimmed: two answers that differ only there are one.
std::string normalized(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The first rule a candidate fails, or "" when it passes them all.
std::string first_failed_rule(const Candidate& c, const KeepRules& r) {
  if (r.correct && !c.correct) return "correct";
  if (r.format && !c.formatted) return "format";
  if (r.finished && !c.finished) return "finished";
  if (!r.language.empty() && c.language < r.language_min) return "language";
  if (r.max_tokens > 0 && c.tokens > r.max_tokens) return "max_tokens";
  if (r.no_repetition && c.repetition > r.repetition_max) return "no_repetition";
  return "";
}

// best_of's order: correct, formatted, in the language, least repetitive, shortest, first sampled.
bool better(const Candidate& a, const Candidate& b) {
  if (a.correct != b.correct) return a.correct;
  if (a.formatted != b.formatted) return a.formatted;
  if (a.language != b.language) return a.language > b.language;
  if (a.repetition != b.repetition) return a.repetition < b.repetition;
  if (a.tokens != b.tokens) return a.tokens < b.tokens;
  return a.sample < b.sample;
}

}  // namespace

std::string KeepRules::text() const {
  std::ostringstream os;
  std::vector<std::string> parts;
  if (correct) parts.push_back("correct");
  if (format) parts.push_back("format");
  if (finished) parts.push_back("finished");
  if (!language.empty()) {
    os.str("");
    os << "language=" << language << ":" << language_min;
    parts.push_back(os.str());
  }
  if (max_tokens > 0) parts.push_back("max_tokens=" + std::to_string(max_tokens));
  if (no_repetition) {
    os.str("");
    os << "no_repetition=" << repetition_max;
    parts.push_back(os.str());
  }
  switch (select) {
    case Select::all_correct: parts.push_back("all_correct"); break;
    case Select::best_of: parts.push_back("best_of=" + std::to_string(select_k)); break;
    case Select::first_k: parts.push_back("first_k=" + std::to_string(select_k)); break;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

KeepRules parse_keep_rules(const std::string& spec) {
  KeepRules r;
  bool selected = false;
  std::stringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) {
    item = trim(item);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    auto no_value = [&] {
      if (eq != std::string::npos) throw std::invalid_argument("--keep " + name + ": takes no value (got \"" + item + "\")");
    };
    auto select = [&](KeepRules::Select s, int64_t k) {
      if (selected) throw std::invalid_argument("--keep " + item + ": one selection only (all_correct, best_of=K or first_k=K)");
      selected = true;
      r.select = s;
      r.select_k = k;
    };
    if (name == "correct") no_value(), r.correct = true;
    else if (name == "format") no_value(), r.format = true;
    else if (name == "finished") no_value(), r.finished = true;
    else if (name == "language") {
      const auto colon = value.find(':');
      r.language = value.substr(0, colon);
      if (r.language != "en" && r.language != "zh")
        throw std::invalid_argument("--keep " + item + ": the language is en or zh (language=en or language=en:0.95)");
      if (colon != std::string::npos) r.language_min = parse_number(name, value.substr(colon + 1), 0, 1);
    } else if (name == "max_tokens") {
      r.max_tokens = parse_count(name, value);
    } else if (name == "no_repetition") {
      r.no_repetition = true;
      if (!value.empty()) r.repetition_max = parse_number(name, value, 0, 1);
    } else if (name == "all_correct") {
      no_value();
      select(KeepRules::Select::all_correct, 0);
    } else if (name == "best_of") {
      select(KeepRules::Select::best_of, parse_count(name, value));
    } else if (name == "first_k") {
      select(KeepRules::Select::first_k, parse_count(name, value));
    } else {
      throw std::invalid_argument("--keep " + item + ": unknown rule (correct, format, finished, language=en[:share], max_tokens=N, "
                                  "no_repetition[=share], all_correct, best_of=K, first_k=K)");
    }
  }
  return r;
}

std::vector<Candidate> score_candidates(const std::vector<const datasets::Task*>& tasks,
                                        const std::vector<const rollout::Completion*>& completions, const KeepRules& rules) {
  const std::vector<Judgement> verdicts = judge(tasks, completions);
  // Language share and repetition through the training rewards themselves.
  std::vector<rewards::RewardSpec> specs;
  rewards::RewardSpec repetition;
  repetition.name = "repetition";
  repetition.options_json = R"({"ngram_size": 3, "max_penalty": -1.0})";  // value = -(repeated share)
  specs.push_back(repetition);
  if (!rules.language.empty()) {
    rewards::RewardSpec lang;
    lang.name = "language_consistency";
    lang.options_json = "{\"language\": \"" + rules.language + "\"}";
    specs.push_back(lang);
  }
  const rewards::StageResult scored = score_with_rewards(specs, tasks, completions);
  std::vector<Candidate> out(completions.size());
  for (size_t i = 0; i < completions.size(); ++i) {
    const rollout::Completion& c = *completions[i];
    Candidate& k = out[i];
    k.text = c.text;
    k.tokens = c.completion_tokens;
    k.finished = c.finish != rollout::FinishReason::length;
    k.correct = verdicts[i].correct;
    k.formatted = verdicts[i].formatted;
    k.repetition = -scored.components[0][i];
    if (!rules.language.empty()) k.language = scored.components[1][i];
  }
  return out;
}

std::vector<size_t> select_candidates(const std::vector<Candidate>& cands, const KeepRules& rules, SelectionCounts* counts) {
  SelectionCounts local;
  SelectionCounts& n = counts ? *counts : local;
  n = SelectionCounts{};
  n.samples = static_cast<int64_t>(cands.size());
  std::map<int64_t, std::vector<size_t>> passing;  // per prompt, in sample order
  std::map<int64_t, std::set<std::string>> seen;
  std::vector<size_t> order(cands.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return cands[a].prompt != cands[b].prompt ? cands[a].prompt < cands[b].prompt : cands[a].sample < cands[b].sample;
  });
  std::set<int64_t> prompts;
  for (size_t i : order) {
    const Candidate& c = cands[i];
    prompts.insert(c.prompt);
    std::string failed = first_failed_rule(c, rules);
    if (failed.empty() && !seen[c.prompt].insert(normalized(c.text)).second) failed = "duplicate";
    if (!failed.empty()) {
      ++n.dropped[failed];
      continue;
    }
    passing[c.prompt].push_back(i);
  }
  n.prompts = static_cast<int64_t>(prompts.size());
  std::vector<size_t> kept;
  for (auto& [prompt, list] : passing) {
    size_t take = list.size();
    if (rules.select == KeepRules::Select::best_of) {
      std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) { return better(cands[a], cands[b]); });
      take = std::min<size_t>(take, static_cast<size_t>(rules.select_k));
      std::sort(list.begin(), list.begin() + static_cast<long>(take), [&](size_t a, size_t b) { return cands[a].sample < cands[b].sample; });
    } else if (rules.select == KeepRules::Select::first_k) {
      take = std::min<size_t>(take, static_cast<size_t>(rules.select_k));
    }
    if (take < list.size()) n.dropped["selection"] += static_cast<int64_t>(list.size() - take);
    if (take > 0) ++n.prompts_kept;
    kept.insert(kept.end(), list.begin(), list.begin() + static_cast<long>(take));
  }
  n.kept = static_cast<int64_t>(kept.size());
  return kept;
}

}  // namespace r1::rl
