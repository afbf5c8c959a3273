// Loaders for the shared data sets and the generic JSON Lines mapping (the folder's one user of
// the JSON library).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "datasets/task.h"

namespace fs = std::filesystem;

namespace r1::datasets {

const char* to_string(VerifierKind k) {
  switch (k) {
    case VerifierKind::math: return "math";
    case VerifierKind::code: return "code";
    case VerifierKind::countdown: return "countdown";
    case VerifierKind::exact: return "exact";
  }
  return "?";
}

std::vector<std::string> dataset_names() {
  return {"gsm8k", "math500", "math_train", "aime2024", "aime2025", "amc2023", "humaneval", "mbpp", "code_contests",
          "countdown", "jsonl", "arithmetic", "countdown_gen", "code_gen"};
}

namespace {

using Json = nlohmann::json;

template <class Fn>
void read_jsonl(const std::string& path, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": data file not found (check data.path, or set R1_SHARED to the shared folder)");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw DataError(path + ":" + std::to_string(n) + ": not a JSON object");
    fn(n, j);
  }
}

std::string text_of(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string need(const Json& j, const std::string& key, const std::string& path, int64_t line, const char* mapping_key = nullptr) {
  if (!j.contains(key) || j[key].is_null())
    throw DataError(path + ":" + std::to_string(line) + ": missing field '" + key + "'" +
                    (mapping_key ? std::string(" (the field is set by data.") + mapping_key + ")" : std::string()));
  return text_of(j[key]);
}

// GSM8K's answers end with "#### 72" (sometimes "#### 1,000").
std::string gsm8k_answer(const std::string& solution) {
  size_t at = solution.rfind("####");
  std::string a = at == std::string::npos ? solution : solution.substr(at + 4);
  std::string out;
  for (char c : a)
    if (c != ',' && c != ' ' && c != '\n') out += c;
  return out;
}

std::string base_name(const std::string& p) { return fs::path(p).parent_path().filename().string(); }

std::vector<Task> load_named(const std::string& name, const DataConfig& c, const std::string& shared) {
  std::string dir = shared + "/datasets/";
  std::vector<Task> out;
  auto file = [&](const std::string& dflt) { return c.path.empty() ? dir + dflt : c.path; };
  if (name == "gsm8k") {
    std::string p = file("gsm8k/" + (c.split == "test" ? std::string("test") : std::string("train")) + ".jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      Task t;
      t.id = "gsm8k/" + c.split + "/" + std::to_string(line);
      t.question = need(j, "question", p, line);
      t.answer = gsm8k_answer(need(j, "answer", p, line));
      out.push_back(std::move(t));
    });
  } else if (name == "math500" || name == "math_train" || name == "aime2024" || name == "aime2025" || name == "amc2023") {
    std::string p = name == "math500"      ? file("math500/test.jsonl")
                    : name == "math_train" ? file("math_train/train.jsonl")
                    : name == "aime2024"   ? file("aime2024/test.jsonl")
                    : name == "aime2025"   ? file("aime2025/matharena_aime_2025.jsonl")
                                           : file("amc2023/test.jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      if (j.contains("answer") && j["answer"].is_null()) return;  // two MATH train rows have no answer
      Task t;
      t.id = (j.contains("unique_id") ? text_of(j["unique_id"]) : name + "/" + std::to_string(line));
      t.question = j.contains("problem") ? text_of(j["problem"]) : need(j, "question", p, line);
      t.answer = need(j, "answer", p, line);
      out.push_back(std::move(t));
    });
  } else if (name == "countdown") {
    std::string p = file("countdown/countdown_cd3_test.jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      std::string nums = need(j, "input", p, line);
      Task t;
      t.id = "countdown/" + std::to_string(line);
      t.verifier = VerifierKind::countdown;
      t.answer = need(j, "output", p, line);
      Json meta;
      meta["numbers"] = Json::array();
      std::string cur;
      for (char ch : nums + ",") {
        if (ch == ',') {
          if (!cur.empty()) meta["numbers"].push_back(std::stoll(cur));
          cur.clear();
        } else if (ch >= '0' && ch <= '9') {
          cur += ch;
        }
      }
      meta["target"] = std::stoll(t.answer);
      t.metadata_json = meta.dump();
      std::string list;
      for (const auto& n : meta["numbers"]) list += (list.empty() ? "" : ", ") + std::to_string(n.get<int64_t>());
      t.question = "Using the numbers [" + list + "], create an equation that equals " + t.answer +
                   ". You can use basic arithmetic operations (+, -, *, /) and each number can only be used once.";
      out.push_back(std::move(t));
    });
  } else if (name == "humaneval") {
    std::string p = file("humaneval/HumanEval.jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      Task t;
      t.id = need(j, "task_id", p, line);
      t.question = need(j, "prompt", p, line);
      t.verifier = VerifierKind::code;
      std::string entry = need(j, "entry_point", p, line);
      t.tests_json = Json{{"prompt", t.question}, {"test_code", need(j, "test", p, line) + "\ncheck(" + entry + ")\n"},
                          {"entry_point", entry}}.dump();
      t.answer = text_of(j.value("canonical_solution", Json()));
      out.push_back(std::move(t));
    });
  } else if (name == "mbpp") {
    std::string p = file("mbpp/sanitized-mbpp.jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      Task t;
      t.id = "mbpp/" + text_of(j.value("task_id", Json(line)));
      t.question = need(j, "prompt", p, line);
      t.verifier = VerifierKind::code;
      std::string tests;
      auto list_of = [&](const char* key) {
        Json v = j.value(key, Json::array());
        if (v.is_string()) v = Json::parse(text_of(v), nullptr, false);  // stored as text in some copies
        return v.is_array() ? v : Json::array();
      };
      for (const auto& imp : list_of("test_imports")) tests += text_of(imp) + "\n";
      for (const auto& a : list_of("test_list")) tests += text_of(a) + "\n";
      t.tests_json = Json{{"test_code", tests}}.dump();
      t.answer = text_of(j.value("code", Json()));
      out.push_back(std::move(t));
    });
  } else if (name == "code_contests") {
    // stdin/stdout pairs; compared whitespace-normalised by the code verifier (no checkers shipped)
    std::string p = file("code_contests/test.jsonl");
    read_jsonl(p, [&](int64_t line, const Json& j) {
      Task t;
      t.id = "code_contests/" + std::to_string(line);
      t.question = need(j, "problem", p, line);
      while (!t.question.empty() && t.question.front() == '\n') t.question.erase(t.question.begin());
      t.verifier = VerifierKind::code;
      if (!j.contains("tests") || !j["tests"].is_object())
        throw DataError(p + ":" + std::to_string(line) + ": missing field 'tests'");
      const Json& tj = j["tests"];
      Json in = tj.value("inputs", Json::array()), outv = tj.value("outputs", Json::array());
      if (!in.is_array() || !outv.is_array() || in.size() != outv.size() || in.empty())
        throw DataError(p + ":" + std::to_string(line) + ": 'tests' needs parallel, non-empty 'inputs' and 'outputs'");
      Json cases = Json::array();
      for (size_t i = 0; i < in.size(); ++i) cases.push_back({{"input", text_of(in[i])}, {"output", text_of(outv[i])}});
      t.tests_json = Json{{"stdin_tests", cases}}.dump();
      out.push_back(std::move(t));
    });
  } else {
    throw DataError("data.dataset: '" + name + "' is not a known data set");
  }
  return out;
}

}  // namespace


std::vector<Task> load_tasks(const DataConfig& c, const std::string& shared_dir, uint64_t seed) {
  if (c.dataset == "arithmetic") return generate_arithmetic({c.generated, c.difficulty, seed});
  if (c.dataset == "countdown_gen") return generate_countdown({c.generated, c.difficulty, seed});
  if (c.dataset == "code_gen") return generate_code({c.generated, c.difficulty, seed});
  if (c.dataset == "jsonl") {
    if (c.path.empty()) throw DataError("data.path: the 'jsonl' data set needs a file");
    std::vector<Task> out;
    read_jsonl(c.path, [&](int64_t line, const Json& j) {
      Task t;
      t.id = c.id_field.empty() ? base_name(c.path) + "/" + std::to_string(line) : need(j, c.id_field, c.path, line, "id_field");
      t.question = need(j, c.question_field, c.path, line, "question_field");
      // Optional: the verifier kind, a code task's tests, metadata (what `r1 data tasks` writes),
      // so one file can mix math and code tasks.
      if (j.contains("verifier")) {
        const std::string kind = text_of(j["verifier"]);
        bool known = false;
        for (auto k : {VerifierKind::math, VerifierKind::code, VerifierKind::countdown, VerifierKind::exact})
          if (kind == to_string(k)) t.verifier = k, known = true;
        if (!known) throw DataError(c.path + ":" + std::to_string(line) + ": verifier '" + kind + "' is not math, code, countdown or exact");
      }
      if (j.contains("tests")) t.tests_json = j["tests"].is_string() ? j["tests"].get<std::string>() : j["tests"].dump();
      if (j.contains("metadata") && j["metadata"].is_object()) t.metadata_json = j["metadata"].dump();
      if (t.verifier == VerifierKind::code && t.tests_json.empty())
        throw DataError(c.path + ":" + std::to_string(line) + ": a code task needs \"tests\"");
      // A code task is judged by its tests; its reference solution is optional.
      t.answer = t.verifier == VerifierKind::code && !j.contains(c.answer_field) ? "" : need(j, c.answer_field, c.path, line, "answer_field");
      if (j.contains("messages") && j["messages"].is_array())
        for (const auto& m : j["messages"]) t.messages.push_back({text_of(m.value("role", Json())), text_of(m.value("content", Json()))});
      out.push_back(std::move(t));
    });
    if (out.empty()) throw DataError(c.path + ": no tasks in the file");
    return out;
  }
  for (const auto& n : dataset_names())
    if (n == c.dataset) {
      if (shared_dir.empty() && c.path.empty())
        throw DataError("data.dataset '" + c.dataset + "' reads the shared data folder, which was not found (set R1_SHARED or data.path)");
      return load_named(c.dataset, c, shared_dir);
    }
  std::string names;
  for (const auto& n : dataset_names()) names += (names.empty() ? "" : ", ") + n;
  throw DataError("data.dataset: '" + c.dataset + "' is not one of " + names);
}

}  // namespace r1::datasets
