// Tokenizer: loading tokenizer.json/tokenizer_config.json, added-token splitting, normalizers,
// post-processing (BOS/EOS) and decoding. Pre-tokenizers and BPE live in their own files.
#include "text/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "text/bpe_model.h"
#include "text/pre_tokenizer.h"
#include "text/unicode_text.h"

namespace fs = std::filesystem;

namespace r1::text {

namespace {

enum class NormStep { NFC, NFD, NFKC, NFKD, Lowercase };

void add_normalizer(const Value& spec, std::vector<NormStep>& steps, const std::string& src) {
  if (spec.is_null() || spec.is_undefined()) return;
  std::string t = spec.get_string("type", src + " normalizer");
  if (t == "Sequence") {
    for (const auto& s : spec["normalizers"].as_array()) add_normalizer(s, steps, src);
  } else if (t == "NFC") steps.push_back(NormStep::NFC);
  else if (t == "NFD") steps.push_back(NormStep::NFD);
  else if (t == "NFKC") steps.push_back(NormStep::NFKC);
  else if (t == "NFKD") steps.push_back(NormStep::NFKD);
  else if (t == "Lowercase") steps.push_back(NormStep::Lowercase);
  else
    throw TextError(src + ": normalizer type '" + t + "' is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase)");
}

// Prefix tree over added tokens, for leftmost-longest matching.
struct Trie {
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
    int32_t token = -1;                                   // index into the token list
  };
  std::vector<Node> nodes{Node{}};
  void insert(std::string_view s, int32_t token) {
    int32_t cur = 0;
    for (unsigned char c : s) {
      auto& nx = nodes[cur].next;
      auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(c, INT32_MIN));
      if (it != nx.end() && it->first == c) {
        cur = it->second;
      } else {
        int32_t n = static_cast<int32_t>(nodes.size());
        nx.insert(it, {c, n});
        nodes.emplace_back();
        cur = n;
      }
    }
    nodes[cur].token = token;
  }
  // Longest token starting at text[pos]: (token index, length) or (-1, 0).
  std::pair<int32_t, size_t> longest(std::string_view text, size_t pos) const {
    int32_t cur = 0, best = -1;
    size_t best_len = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      const auto& nx = nodes[cur].next;
      unsigned char c = text[i];
      auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(c, INT32_MIN));
      if (it == nx.end() || it->first != c) break;
      cur = it->second;
      if (nodes[cur].token >= 0) best = nodes[cur].token, best_len = i + 1 - pos;
    }
    return {best, best_len};
  }
};

bool is_word_char(std::string_view text, size_t byte_pos, bool before) {
  // single_word: the neighbouring character must not be alphanumeric/underscore (ASCII view).
  if (before) {
    if (byte_pos == 0) return false;
    unsigned char c = text[byte_pos - 1];
    return std::isalnum(c) || c == '_' || c >= 0x80;
  }
  if (byte_pos >= text.size()) return false;
  unsigned char c = text[byte_pos];
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A segment of the input: either an added token, or text still to be encoded.
struct Segment {
  int32_t added_id = -1;  // >= 0: an added token
  std::string text;       // otherwise: the text
  bool normalized = false;  // the text has been normalized already
};

}  // namespace

struct Tokenizer::Impl {
  BpeModel model;
  PreTokenizer pre;
  std::vector<NormStep> norm;
  std::vector<AddedToken> added;
  Trie raw_trie, normalized_trie;  // normalized=false tokens match raw text, the others normalized text
  bool have_raw = false, have_normalized = false;
  std::vector<std::string> id_bytes;  // every id, including added tokens
  std::vector<bool> special;
  std::vector<int32_t> prefix_ids, suffix_ids;  // post-processor (add_special_tokens)
  std::unordered_map<std::string, int32_t> added_by_content;

  std::string normalize(std::string_view s) const {
    std::string cur(s);
    for (NormStep st : norm) {
      switch (st) {
        case NormStep::NFC: cur = normalize_unicode(cur, NormalForm::NFC); break;
        case NormStep::NFD: cur = normalize_unicode(cur, NormalForm::NFD); break;
        case NormStep::NFKC: cur = normalize_unicode(cur, NormalForm::NFKC); break;
        case NormStep::NFKD: cur = normalize_unicode(cur, NormalForm::NFKD); break;
        case NormStep::Lowercase: cur = lowercase_unicode(cur); break;
      }
    }
    return cur;
  }

  // Splits `text` on the added tokens of `trie`, appending segments.
  void split_added(const std::string& text, const Trie& trie, bool normalized, std::vector<Segment>& out) const {
    size_t start = 0, i = 0;
    while (i < text.size()) {
      auto [tok, len] = trie.longest(text, i);
      if (tok < 0) {
        ++i;
        continue;
      }
      const AddedToken& at = added[tok];
      if (at.single_word && (is_word_char(text, i, true) || is_word_char(text, i + len, false))) {
        ++i;
        continue;
      }
      size_t left_end = i, right_begin = i + len;
      if (at.lstrip)
        while (left_end > start && is_space(text[left_end - 1])) --left_end;
      if (at.rstrip)
        while (right_begin < text.size() && is_space(text[right_begin])) ++right_begin;
      if (left_end > start) out.push_back({-1, text.substr(start, left_end - start), normalized});
      out.push_back({at.id, {}, normalized});
      start = i = right_begin;
    }
    if (start < text.size()) out.push_back({-1, text.substr(start), normalized});
  }
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const std::string& path) {
  fs::path p(path);
  fs::path file = fs::is_directory(p) ? p / "tokenizer.json" : p;
  if (!fs::exists(file)) throw TextError(file.string() + ": tokenizer.json not found (pass a model or tokenizer folder)");
  Value tj = read_json_file(file.string());
  fs::path cfg_path = file.parent_path() / "tokenizer_config.json";
  Value cfg = fs::exists(cfg_path) ? read_json_file(cfg_path.string()) : Value(Value::Object{});
  return from_json(tj, cfg, file.string());
}

static std::string token_content(const Value& v) {
  // tokenizer_config.json writes tokens as strings or as {"content": ...} objects.
  if (v.is_string()) return v.as_string();
  if (v.is_object() && v["content"].is_string()) return v["content"].as_string();
  return "";
}

Tokenizer Tokenizer::from_json(const Value& tj, const Value& cfg, const std::string& source) {
  Tokenizer t;
  t.source_ = source;
  Impl& im = *t.impl_;
  const Value& model = tj["model"];
  if (!model.is_object()) throw TextError(source + ": missing 'model'");
  std::string type = model["type"].is_string() ? model["type"].as_string() : "BPE";
  if (type != "BPE") throw TextError(source + ": model.type '" + type + "' is not supported (only byte-level BPE)");
  if (model["byte_fallback"].truthy()) throw TextError(source + ": BPE with byte_fallback (SentencePiece-style) is not supported");

  std::vector<std::pair<std::string, int32_t>> vocab;
  for (const auto& [k, v] : model["vocab"].as_object()) {
    if (!v.is_int()) throw TextError(source + ": model.vocab['" + k + "'] is not an integer id");
    vocab.emplace_back(k, static_cast<int32_t>(v.as_int()));
  }
  if (vocab.empty()) throw TextError(source + ": model.vocab is empty");
  std::vector<std::pair<std::string, std::string>> merges;
  const auto& ml = model["merges"].as_array();
  merges.reserve(ml.size());
  for (size_t i = 0; i < ml.size(); ++i) {
    const Value& m = ml[i];
    if (m.is_string()) {
      // "a b": split at the first space after the first character (a token may itself be " ")?
      // Byte-level tokens never contain a raw space (it is Ġ), so the first space separates.
      const std::string& s = m.as_string();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) throw TextError(source + ": merge " + std::to_string(i) + " '" + s + "' is not 'left right'");
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].as_string(), m[1].as_string());
    } else {
      throw TextError(source + ": merge " + std::to_string(i) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  add_normalizer(tj["normalizer"], im.norm, source);
  im.pre = PreTokenizer::from_json(tj["pre_tokenizer"]);
  im.model.build(vocab, merges, model["ignore_merges"].truthy(), source);
  if (!im.pre.byte_level()) {
    const Value& dec = tj["decoder"];
    if (!(dec.is_object() && dec["type"].is_string() && dec["type"].as_string() == "ByteLevel"))
      throw TextError(source + ": only byte-level BPE tokenizers are supported (no ByteLevel pre-tokenizer or decoder)");
  }

  int32_t max_id = im.model.vocab_size() - 1;
  for (const auto& a : tj["added_tokens"].as_array()) {
    AddedToken at;
    at.id = static_cast<int32_t>(a.get_int("id", source + " added_tokens"));
    at.content = a.get_string("content", source + " added_tokens");
    at.special = a["special"].truthy();
    at.lstrip = a["lstrip"].truthy();
    at.rstrip = a["rstrip"].truthy();
    at.normalized = a["normalized"].truthy();
    at.single_word = a["single_word"].truthy();
    if (at.content.empty()) throw TextError(source + ": added token " + std::to_string(at.id) + " has empty content");
    max_id = std::max(max_id, at.id);
    im.added.push_back(at);
  }
  im.id_bytes.assign(max_id + 1, std::string());
  im.special.assign(max_id + 1, false);
  for (int32_t id = 0; id < im.model.vocab_size(); ++id)
    if (im.model.has_id(id)) im.id_bytes[id] = im.model.bytes_of(id);
  for (size_t i = 0; i < im.added.size(); ++i) {
    const AddedToken& at = im.added[i];
    im.id_bytes[at.id] = at.content;
    im.special[at.id] = at.special;
    im.added_by_content[at.content] = at.id;
    // With an identity normalizer the two kinds match the same text; keep one trie then.
    if (at.normalized && !im.norm.empty()) {
      im.normalized_trie.insert(at.content, static_cast<int32_t>(i));
      im.have_normalized = true;
    } else {
      im.raw_trie.insert(at.content, static_cast<int32_t>(i));
      im.have_raw = true;
    }
  }

  // Special tokens named by tokenizer_config.json.
  auto lookup = [&](const Value& v) -> int32_t {
    std::string c = token_content(v);
    if (c.empty()) return -1;
    auto it = im.added_by_content.find(c);
    if (it != im.added_by_content.end()) return it->second;
    int32_t id = im.model.id_of_bytes(c);
    return id;
  };
  t.bos_token_ = token_content(cfg["bos_token"]);
  t.eos_token_ = token_content(cfg["eos_token"]);
  t.pad_token_ = token_content(cfg["pad_token"]);
  t.bos_id_ = lookup(cfg["bos_token"]);
  t.eos_id_ = lookup(cfg["eos_token"]);
  t.pad_id_ = lookup(cfg["pad_token"]);
  if (cfg["chat_template"].is_string()) t.chat_template_ = cfg["chat_template"].as_string();

  // Post-processing: transformers' LlamaTokenizerFast rebuilds it from add_bos_token/add_eos_token;
  // otherwise tokenizer.json's TemplateProcessing (ByteLevel adds nothing).
  if (cfg["add_bos_token"].is_bool() || cfg["add_eos_token"].is_bool()) {
    if (cfg["add_bos_token"].truthy() && t.bos_id_ >= 0) im.prefix_ids.push_back(t.bos_id_);
    if (cfg["add_eos_token"].truthy() && t.eos_id_ >= 0) im.suffix_ids.push_back(t.eos_id_);
  } else if (tj["post_processor"].is_object() && tj["post_processor"]["type"].is_string() &&
             tj["post_processor"]["type"].as_string() == "TemplateProcessing") {
    bool before = true;
    for (const auto& item : tj["post_processor"]["single"].as_array()) {
      if (item["Sequence"].is_object()) {
        before = false;
      } else if (item["SpecialToken"].is_object()) {
        std::string name = item["SpecialToken"]["id"].as_string();
        const Value& st = tj["post_processor"]["special_tokens"][name];
        for (const auto& id : st["ids"].as_array()) (before ? im.prefix_ids : im.suffix_ids).push_back(static_cast<int32_t>(id.as_int()));
      }
    }
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text_in, bool add_special_tokens) const {
  const Impl& im = *impl_;
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = im.prefix_ids;
  std::string text = utf8_valid(text_in) ? std::string(text_in) : utf8_lossy(text_in);

  std::vector<Segment> segs;
  if (im.have_raw) im.split_added(text, im.raw_trie, false, segs);
  else segs.push_back({-1, text, false});
  std::vector<Segment> segs2;
  for (auto& s : segs) {
    if (s.added_id >= 0) {
      segs2.push_back(std::move(s));
      continue;
    }
    std::string n = im.norm.empty() ? std::move(s.text) : im.normalize(s.text);
    if (im.have_normalized) im.split_added(n, im.normalized_trie, true, segs2);
    else segs2.push_back({-1, std::move(n), true});
  }
  std::vector<Piece> pieces;
  std::string buf;
  for (const Segment& s : segs2) {
    if (s.added_id >= 0) {
      ids.push_back(s.added_id);
      continue;
    }
    pieces.clear();
    im.pre.split(s.text, 0, static_cast<uint32_t>(s.text.size()), pieces);
    for (const Piece& p : pieces) {
      std::string_view bytes(s.text.data() + p.begin, p.end - p.begin);
      if (p.prefix_space) {
        buf.assign(" ");
        buf.append(bytes);
        im.model.encode(buf, ids);
      } else {
        im.model.encode(bytes, ids);
      }
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), im.suffix_ids.begin(), im.suffix_ids.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& im = *impl_;
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= static_cast<int32_t>(im.id_bytes.size())) continue;
    if (skip_special_tokens && im.special[id]) continue;
    bytes += im.id_bytes[id];
  }
  return utf8_lossy(bytes);
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  static const std::string empty;
  if (id < 0 || id >= static_cast<int32_t>(impl_->id_bytes.size())) return empty;
  return impl_->id_bytes[id];
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_bytes.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return it->second;
  int32_t id = impl_->model.id_of_bytes(byte_level_to_bytes(token));
  if (id >= 0 && impl_->model.text_of(id) == token) return id;
  id = impl_->model.id_of_bytes(token);
  if (id >= 0) return id;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < static_cast<int32_t>(impl_->special.size()) && impl_->special[id];
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }

}  // namespace r1::text
