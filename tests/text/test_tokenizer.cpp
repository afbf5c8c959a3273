// Tokenizer parity with Hugging Face `tokenizers` on the golden vectors of ../shared/tokenizers,
// plus hand-made cases for the regex translation and bad files.
#include <doctest/doctest.h>

#include <fstream>

#include "text/bpe_model.h"
#include "text/split_regex.h"
#include "text/tokenizer.h"
#include "tests/test_util.h"

using namespace r1::text;

namespace {

struct Parity {
  int lines = 0, ids_ok = 0, decoded_ok = 0;
  std::vector<std::string> failures;
};

Parity check_golden(const Tokenizer& tok, const std::string& path) {
  Parity p;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Value v = parse_json(line, path);
    ++p.lines;
    std::vector<int32_t> want;
    for (const auto& id : v["ids"].as_array()) want.push_back(static_cast<int32_t>(id.as_int()));
    auto got = tok.encode(v["text"].as_string(), v["add_special_tokens"].truthy());
    if (got == want) ++p.ids_ok;
    else if (p.failures.size() < 5) p.failures.push_back("ids differ for " + to_json(v["text"]));
    if (tok.decode(want) == v["decoded"].as_string()) ++p.decoded_ok;
    else if (p.failures.size() < 5) p.failures.push_back("decode differs for " + to_json(v["text"]));
  }
  return p;
}

}  // namespace

TEST_CASE("DeepSeek-V3 and Qwen3 tokenizers match Hugging Face on every golden line") {
  R1_REQUIRE_SHARED(shared);
  for (std::string name : {"deepseek-v3", "qwen3"}) {
    Tokenizer tok = Tokenizer::load(shared + "/tokenizers/" + name);
    Parity p = check_golden(tok, shared + "/tokenizers/" + name + "/golden.jsonl");
    for (const auto& f : p.failures) MESSAGE(name << ": " << f);
    MESSAGE(name << ": ids " << p.ids_ok << "/" << p.lines << ", decoded " << p.decoded_ok << "/" << p.lines);
    CHECK(p.lines > 500);
    CHECK(p.ids_ok == p.lines);
    CHECK(p.decoded_ok == p.lines);
  }
}

TEST_CASE("special token ids and BOS handling follow tokenizer_config.json") {
  R1_REQUIRE_SHARED(shared);
  Tokenizer ds = Tokenizer::load(shared + "/tokenizers/deepseek-v3");
  CHECK(ds.bos_id() == 0);
  CHECK(ds.eos_id() == 1);
  CHECK(ds.encode("", true) == std::vector<int32_t>{0});
  CHECK(ds.encode("Hello") == std::vector<int32_t>{19923});
  CHECK(ds.vocab_size() == 128815);
  CHECK(ds.token_to_id("<｜User｜>") == 128803);
  Tokenizer qw = Tokenizer::load(shared + "/tokenizers/qwen3");
  CHECK(qw.bos_id() == -1);
  CHECK(qw.eos_id() == 151645);
  CHECK(qw.encode("hi", true) == qw.encode("hi", false));
  CHECK(qw.token_to_id("<think>") == 151667);
  CHECK(qw.is_special(151644));
  CHECK(!qw.is_special(151667));
}

TEST_CASE("Oniguruma semantics: \\s excludes U+180E and (?i:) folds ASCII only") {
  SplitRegex s("\\s+");
  std::vector<std::pair<size_t, size_t>> m;
  s.find_all("a \xC2\x85 b", m);  // U+0085 is whitespace for Oniguruma
  REQUIRE(m.size() == 1);
  CHECK(m[0] == std::make_pair<size_t, size_t>(1, 5));
  m.clear();
  s.find_all("a\xE1\xA0\x8E" "b", m);  // U+180E is not
  CHECK(m.empty());
  SplitRegex ci("(?i:'s|'ll)");
  m.clear();
  ci.find_all("it'S we'LL 'ſ", m);
  CHECK(m.size() == 2);
  CHECK(SplitRegex::translate("(?i:'s)") == "(?:'[sS])");
}

TEST_CASE("malformed tokenizer files are clear errors") {
  r1::test::TempDir d;
  auto err = [&](const std::string& json) {
    r1::test::write_file(d / "tokenizer.json", json);
    try {
      Tokenizer::load(d.path.string());
    } catch (const TextError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err("{").find("invalid JSON") != std::string::npos);
  CHECK(err("{}").find("missing 'model'") != std::string::npos);
  CHECK(err(R"({"model": {"type": "Unigram", "vocab": []}})").find("not supported") != std::string::npos);
  CHECK(err(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})")
            .find("lacks the byte symbol") != std::string::npos);
  CHECK(err(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}})")
            .find("Metaspace") != std::string::npos);
  CHECK(std::string([&] {
          try {
            Tokenizer::load((d / "nowhere").c_str());
          } catch (const TextError& e) {
            return std::string(e.what());
          }
          return std::string();
        }())
            .find("not found") != std::string::npos);
}

#include "text/chat_template.h"
#include "text/prompt_format.h"

TEST_CASE("chat templates render exactly the reference text and ids for both tokenizers") {
  R1_REQUIRE_SHARED(shared);
  for (std::string name : {"deepseek-v3", "qwen3"}) {
    Tokenizer tok = Tokenizer::load(shared + "/tokenizers/" + name);
    ChatTemplate t = ChatTemplate::compile(tok.chat_template());
    std::ifstream in(shared + "/tokenizers/" + name + "/chat.jsonl");
    std::string line;
    int n = 0, text_ok = 0, ids_ok = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Value v = parse_json(line, "chat.jsonl");
      ++n;
      Value::Object extra;
      for (const auto& kv : v["template_kwargs"].as_object()) extra.push_back(kv);
      std::string text = apply_chat_template(tok, t, v["messages"], v["add_generation_prompt"].truthy(), v["tools"], extra);
      if (text == v["text"].as_string()) ++text_ok;
      else MESSAGE(name << " line " << n << " differs:\n got: " << to_json(Value(text)) << "\nwant: " << to_json(v["text"]));
      std::vector<int32_t> want;
      for (const auto& id : v["ids"].as_array()) want.push_back(static_cast<int32_t>(id.as_int()));
      if (tok.encode(v["text"].as_string()) == want) ++ids_ok;
    }
    MESSAGE(name << ": chat text " << text_ok << "/" << n << ", ids " << ids_ok << "/" << n);
    CHECK(n >= 22);
    CHECK(text_ok == n);
    CHECK(ids_ok == n);
  }
}

TEST_CASE("prompt templates: chat carries R1's system instruction, chat-plain and messages do not add it twice") {
  R1_REQUIRE_SHARED(shared);
  Tokenizer tok = Tokenizer::load(shared + "/tokenizers/qwen3");
  PromptFormat chat("chat", tok), plain("chat-plain", tok), zero("r1-zero", tok), custom("Q: {question}\nA:", tok);
  const std::string r1 = kR1SystemInstruction;
  CHECK(chat.text("What is 2+2?").find(r1) != std::string::npos);
  CHECK(chat.text("What is 2+2?").find("What is 2+2?") != std::string::npos);
  CHECK(plain.text("What is 2+2?").find(r1) == std::string::npos);
  CHECK(zero.text("What is 2+2?").find("<think>") != std::string::npos);
  CHECK(custom.text("2+2") == "Q: 2+2\nA:");
  Value own = parse_json(R"([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"}])", "test");
  Value user_only = parse_json(R"([{"role": "user", "content": "2+2?"}])", "test");
  CHECK(chat.text_of_messages(own).find(r1) == std::string::npos);     // the data set's system message wins
  CHECK(chat.text_of_messages(own).find("Be terse.") != std::string::npos);
  CHECK(chat.text_of_messages(user_only) == chat.text("2+2?"));
  // a chat template writes its own special tokens: encoding adds none on top
  CHECK(chat.encode_messages(user_only) == tok.encode(chat.text("2+2?"), false));
  CHECK(custom.text_of_messages(own) == "Q: 2+2?\nA:");
  CHECK_THROWS_WITH_AS(PromptFormat("chatty", tok), doctest::Contains("not r1-zero, chat, chat-plain"), TextError);
}

TEST_CASE("the Jinja subset: whitespace control, loops, namespaces, filters, errors with lines") {
  auto render = [](const std::string& src, Value::Object vars = {}) { return ChatTemplate::compile(src).render(vars); };
  CHECK(render("{% for x in [1, 2, 3] %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}") == "1,2,3");
  CHECK(render("a\n  {% if true %}\nb\n  {% endif %}\nc") == "a\nb\nc");  // trim_blocks + lstrip_blocks
  CHECK(render("{{- ' x ' -}}  {{ 'y' }}") == " x y");
  CHECK(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "6");
  CHECK(render("{{ 'a</think>\\nb'.split('</think>')[-1].lstrip('\\n') }}") == "b");
  CHECK(render("{{ [3, 1, 2][::-1] | join('-') }}|{{ 'abc'[1:] }}|{{ {'k': 1.5} | tojson }}") == "2-1-3|bc|{\"k\": 1.5}");
  CHECK(render("{{ x is defined }} {{ none is none }} {{ 'ab' is string }} {{ y | default('d') }}") ==
        "False True True d");
  CHECK(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{% else %}none{% endfor %}") == "24");
  CHECK(render("{% for x in [] %}{{ x }}{% else %}none{% endfor %}") == "none");
  CHECK(render("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}") == "012");
  CHECK(render("{{ 'yes' if 1 < 2 else 'no' }} {{ 7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}") == "yes 3 2 1024");
  auto err = [&](const std::string& src) {
    try {
      render(src);
    } catch (const TextError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err("line one\n{% if x %}never closed").find("line 2") != std::string::npos);
  CHECK(err("{{ raise_exception('bad role') }}").find("bad role") != std::string::npos);
  CHECK(err("{% macro m() %}{% endmacro %}").find("unsupported tag") != std::string::npos);
  CHECK(err("{{ 1 + 'a' }}").find("unsupported operand") != std::string::npos);
  CHECK(r1_zero_prompt("2+2?").find("User: 2+2? Assistant:") != std::string::npos);
}
