// `r1 verify math`: one pair (--gold/--pred, --explain shows the steps) or JSON Lines of
// {"gold", "pred", ["config"], ["expected"], ...}: one output line each, agreement counts when
// the lines carry "expected". A line that is not valid JSON is reported and skipped.
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "verifiers/math/math_verifier.h"

namespace r1::cli {
namespace {

using verifiers::math::MathOptions;

// A line's "config", in Math-Verify's vocabulary, onto our options.
MathOptions options_from(const Json& cfg, MathOptions o, const std::string& where) {
  if (!cfg.is_object()) return o;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "extraction") {
      o.latex_extraction = o.expr_extraction = o.string_extraction = false;
      for (const auto& e : v) {
        std::string s = e.get<std::string>();
        if (s == "latex") o.latex_extraction = true;
        else if (s == "expr") o.expr_extraction = true;
        else if (s == "string") o.string_extraction = true;
      }
    } else if (k == "boxed_match_priority") o.boxed_priority = v.get<int>();
    else if (k == "float_rounding") o.float_rounding = v.get<int>();
    else if (k == "strict") o.strict = v.get<bool>();
    else if (k == "allow_set_relation_comp") o.allow_set_relation = v.get<bool>();
    else if (k == "extraction_mode") o.first_match = v.get<std::string>() == "first_match";
    else if (k == "fallback_mode") o.text_fallback = v.get<std::string>() != "no_fallback";
    else if (k == "normalization") o.fix_malformed = v.value("malformed_operators", true);
    else if (k == "strings") o.choices = v.get<std::vector<std::string>>();
    else if (k == "lowercase") o.lowercase_choices = v.get<bool>();
    else if (k == "rel_tol") o.rel_tol = v.get<double>();
    else if (k == "percent_equivalence") o.percent_equivalence = v.get<bool>();
    else if (k == "timeout_s") o.timeout_s = v.get<double>();
    else throw InputError(where + ": unknown config key '" + k + "'");
  }
  return o;
}

}  // namespace

void add_verify_commands(CLI::App& app, Context& ctx) {
  auto* verify = app.add_subcommand("verify", "Check answers");
  verify->require_subcommand(1);
  struct Args {
    std::string gold, pred, input, output;
    bool explain = false;
    double rel_tol = 1e-6;
    int float_rounding = -1;
  };
  auto a = std::make_shared<Args>();
  auto* m = verify->add_subcommand("math", "Is a math answer equivalent to the reference? (prints true/false)");
  auto* g = m->add_option("--gold", a->gold, "reference answer (or a whole reference solution)");
  auto* p = m->add_option("--pred", a->pred, "the model's response");
  auto* in = m->add_option("--input", a->input, "JSON Lines of {\"gold\", \"pred\", [\"config\"], [\"expected\"]}")->check(CLI::ExistingFile);
  in->excludes(g)->excludes(p);
  m->add_option("--output,-o", a->output, "JSON Lines output (default: standard output)");
  m->add_flag("--explain", a->explain, "print the extraction and comparison steps");
  m->add_option("--rel-tol", a->rel_tol, "relative tolerance of numeric comparison")->check(CLI::Range(0.0, 1.0));
  m->add_option("--float-rounding", a->float_rounding, "compare decimals after rounding to this many places");
  m->callback([a, &ctx] {
    MathOptions base;
    base.rel_tol = a->rel_tol;
    base.float_rounding = a->float_rounding;
    if (a->input.empty()) {
      if (a->gold.empty() && a->pred.empty()) throw InputError("verify math: pass --gold and --pred, or --input FILE.jsonl");
      auto v = verifiers::math::verify(a->gold, a->pred, base);
      if (ctx.json) {
        std::cout << dump(Json{{"equal", v.equal}, {"extracted", v.extracted_pred}, {"extracted_gold", v.extracted_gold},
                               {"normalized", v.normalized_pred}, {"normalized_gold", v.normalized_gold}, {"reason", v.reason}})
                  << "\n";
      } else {
        std::cout << (v.equal ? "true" : "false") << "\n";
        if (a->explain) {
          for (const auto& s : v.steps) std::cout << "  " << s << "\n";
          std::cout << "  => " << v.reason << "\n";
        }
      }
      return;
    }
    LineWriter out(a->output);
    int64_t with_expected = 0, agree = 0, bad = 0;
    std::vector<std::string> disagreements;
    for_each_json_line(
        a->input,
        [&](int64_t line, const Json& j) {
          std::string where = a->input + ":" + std::to_string(line);
          if (!j.contains("gold") || !j.contains("pred") || !j["gold"].is_string() || !j["pred"].is_string()) {
            std::cerr << "r1: warning: " << where << ": needs string fields \"gold\" and \"pred\" (skipped)\n";
            ++bad;
            return;
          }
          MathOptions o = options_from(j.value("config", Json::object()), base, where);
          auto v = verifiers::math::verify(j["gold"].get<std::string>(), j["pred"].get<std::string>(), o);
          Json r = j;
          r["equal"] = v.equal;
          r["extracted"] = v.extracted_pred;
          r["extracted_gold"] = v.extracted_gold;
          r["reason"] = v.reason;
          r["normalized"] = v.normalized_pred;
          r["normalized_gold"] = v.normalized_gold;
          out.write(r);
          if (j.contains("expected") && j["expected"].is_boolean()) {
            ++with_expected;
            if (j["expected"].get<bool>() == v.equal) ++agree;
            else
              disagreements.push_back("line " + std::to_string(line) + ": expected " + (j["expected"].get<bool>() ? "true" : "false") +
                                      ", got " + (v.equal ? "true" : "false") + " (" + v.reason + "; extracted \"" +
                                      v.extracted_gold + "\" vs \"" + v.extracted_pred + "\")");
          }
        },
        /*skip_bad=*/true);
    out.close();
    if (with_expected > 0 && !ctx.quiet) {
      std::cerr << "agreement: " << agree << "/" << with_expected << " (" << (100.0 * agree / with_expected) << "%)\n";
      for (const auto& d : disagreements) std::cerr << "  " << d << "\n";
    }
    (void)bad;
  });
}

}  // namespace r1::cli
