// Byte-level BPE training: count pre-tokenized words, then repeatedly merge the most frequent
// adjacent pair (ties: smallest ids), updating only the words that contain it.
#include "text/bpe_trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include "text/bpe_model.h"
#include "text/folder_write.h"
#include "text/json_value.h"
#include "text/split_regex.h"

namespace r1::text {

const char* const kTrainedSplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

struct PairHash {
  size_t operator()(uint64_t k) const { return std::hash<uint64_t>()(k * 0x9E3779B97F4A7C15ull); }
};
uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

}  // namespace

BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& o, const std::string& out_dir) {
  if (o.vocab_size < 256 + static_cast<int64_t>(o.special_tokens.size()))
    throw TextError("tokenizer train: --vocab-size must be at least 256 + the number of special tokens");
  // 1. Words and their counts (special tokens are cut out of the text first, as the loader does).
  SplitRegex split(kTrainedSplitPattern);
  std::unordered_map<std::string, int64_t> word_counts;
  std::vector<std::pair<size_t, size_t>> m;
  for (const auto& text : texts) {
    std::vector<std::string> parts{text};
    for (const auto& sp : o.special_tokens) {
      std::vector<std::string> next;
      for (const auto& p : parts) {
        size_t pos = 0;
        for (size_t f; (f = p.find(sp, pos)) != std::string::npos; pos = f + sp.size()) next.push_back(p.substr(pos, f - pos));
        next.push_back(p.substr(pos));
      }
      parts = std::move(next);
    }
    for (const auto& p : parts) {
      m.clear();
      split.find_all(p, m);
      size_t last = 0;
      for (auto [b, e] : m) {
        if (b > last) ++word_counts[p.substr(last, b - last)];
        ++word_counts[p.substr(b, e - b)];
        last = e;
      }
      if (last < p.size()) ++word_counts[p.substr(last)];
    }
  }
  // Deterministic word order.
  std::vector<std::pair<std::string, int64_t>> words_sorted(word_counts.begin(), word_counts.end());
  std::sort(words_sorted.begin(), words_sorted.end());

  // 2. Symbols: ids 0..255 are the bytes (in byte-level text order), then merges.
  std::vector<std::string> symbol_text;  // byte-level text of each id
  for (int b = 0; b < 256; ++b) symbol_text.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (const auto& [w, c] : words_sorted) {
    std::vector<int32_t> sym;
    for (unsigned char ch : w) sym.push_back(ch);
    words.push_back(std::move(sym));
    counts.push_back(c);
  }
  std::unordered_map<uint64_t, int64_t, PairHash> pair_count;
  std::unordered_map<uint64_t, std::set<int32_t>, PairHash> pair_words;
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      uint64_t k = key(words[w][i], words[w][i + 1]);
      pair_count[k] += counts[w];
      pair_words[k].insert(static_cast<int32_t>(w));
    }
  // Max-heap with lazy invalidation: (count, -left, -right).
  using Entry = std::tuple<int64_t, int64_t, int64_t>;
  std::priority_queue<Entry> heap;
  for (const auto& [k, c] : pair_count) heap.emplace(c, -static_cast<int64_t>(k >> 32), -static_cast<int64_t>(k & 0xffffffff));

  const int64_t target_merges = o.vocab_size - 256 - static_cast<int64_t>(o.special_tokens.size());
  std::vector<std::pair<int32_t, int32_t>> merges;
  while (static_cast<int64_t>(merges.size()) < target_merges && !heap.empty()) {
    auto [c, nl, nr] = heap.top();
    heap.pop();
    int32_t a = static_cast<int32_t>(-nl), b = static_cast<int32_t>(-nr);
    uint64_t k = key(a, b);
    auto it = pair_count.find(k);
    if (it == pair_count.end() || it->second != c) continue;  // stale
    if (c < o.min_frequency) break;
    int32_t id = static_cast<int32_t>(symbol_text.size());
    symbol_text.push_back(symbol_text[a] + symbol_text[b]);
    merges.emplace_back(a, b);
    std::set<int32_t> affected = pair_words[k];
    std::unordered_map<uint64_t, int64_t, PairHash> delta;
    for (int32_t w : affected) {
      auto& sym = words[w];
      const int64_t wc = counts[w];
      for (size_t i = 0; i + 1 < sym.size(); ++i) delta[key(sym[i], sym[i + 1])] -= wc;
      std::vector<int32_t> merged;
      for (size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
          merged.push_back(id);
          ++i;
        } else {
          merged.push_back(sym[i]);
        }
      }
      sym = std::move(merged);
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        uint64_t nk = key(sym[i], sym[i + 1]);
        delta[nk] += wc;
        pair_words[nk].insert(w);
      }
    }
    for (const auto& [pk, d] : delta) {
      if (d == 0) continue;
      int64_t& pc = pair_count[pk];
      pc += d;
      if (pc > 0) heap.emplace(pc, -static_cast<int64_t>(pk >> 32), -static_cast<int64_t>(pk & 0xffffffff));
    }
    pair_count.erase(k);
    pair_words.erase(k);
  }

  // 3. tokenizer.json: vocab in id order, merges as "left right", specials after the vocab.
  Value vocab(Value::Object{});
  for (size_t i = 0; i < symbol_text.size(); ++i) vocab.as_object().emplace_back(symbol_text[i], Value(static_cast<int64_t>(i)));
  Value::Array merge_list;
  for (auto [a, b] : merges) merge_list.emplace_back(symbol_text[a] + " " + symbol_text[b]);
  Value::Array added;
  int64_t next_id = static_cast<int64_t>(symbol_text.size());
  for (const auto& sp : o.special_tokens) {
    Value t(Value::Object{});
    t.set("id", Value(next_id++));
    t.set("content", Value(sp));
    t.set("single_word", Value(false));
    t.set("lstrip", Value(false));
    t.set("rstrip", Value(false));
    t.set("normalized", Value(false));
    t.set("special", Value(true));
    added.push_back(t);
  }
  auto obj = [](std::initializer_list<std::pair<const char*, Value>> kv) {
    Value v(Value::Object{});
    for (const auto& [k, x] : kv) v.set(k, x);
    return v;
  };
  Value split_step = obj({{"type", Value("Split")},
                          {"pattern", obj({{"Regex", Value(kTrainedSplitPattern)}})},
                          {"behavior", Value("Isolated")},
                          {"invert", Value(false)}});
  Value byte_level = obj({{"type", Value("ByteLevel")}, {"add_prefix_space", Value(false)}, {"trim_offsets", Value(false)},
                          {"use_regex", Value(false)}});
  Value tj = obj({{"version", Value("1.0")},
                  {"truncation", Value::null()},
                  {"padding", Value::null()},
                  {"added_tokens", Value(added)},
                  {"normalizer", Value::null()},
                  {"pre_tokenizer", obj({{"type", Value("Sequence")}, {"pretokenizers", Value(Value::Array{split_step, byte_level})}})},
                  {"post_processor", byte_level},
                  {"decoder", byte_level},
                  {"model", obj({{"type", Value("BPE")},
                                 {"dropout", Value::null()},
                                 {"unk_token", Value::null()},
                                 {"continuing_subword_prefix", Value::null()},
                                 {"end_of_word_suffix", Value::null()},
                                 {"fuse_unk", Value(false)},
                                 {"byte_fallback", Value(false)},
                                 {"ignore_merges", Value(false)},
                                 {"vocab", vocab},
                                 {"merges", Value(merge_list)}})}});
  std::string eos = o.special_tokens.empty() ? "" : o.special_tokens.front();
  Value cfg = obj({{"tokenizer_class", Value("PreTrainedTokenizerFast")},
                   {"add_bos_token", Value(false)},
                   {"add_eos_token", Value(false)},
                   {"bos_token", Value::null()},
                   {"eos_token", eos.empty() ? Value::null() : Value(eos)},
                   {"pad_token", eos.empty() ? Value::null() : Value(eos)},
                   {"model_max_length", Value(int64_t{4096})},
                   {"clean_up_tokenization_spaces", Value(false)}});
  write_folder_atomically(out_dir, [&](const std::string& tmp) {
    std::ofstream(tmp + "/tokenizer.json") << to_json(tj, true, 2) << "\n";
    std::ofstream(tmp + "/tokenizer_config.json") << to_json(cfg, true, 2) << "\n";
  });
  BpeTrainResult r;
  r.vocab_size = next_id;
  r.merges = static_cast<int64_t>(merges.size());
  r.words = static_cast<int64_t>(words.size());
  return r;
}

}  // namespace r1::text
