// Byte-level BPE encoding with a per-thread cache.
#include "text/bpe_model.h"

#include <algorithm>
#include <array>
#include <queue>

#include "text/json_value.h"
#include "text/unicode_text.h"

namespace r1::text {

namespace {

struct ByteTables {
  std::array<int32_t, 256> to_char;
  std::unordered_map<int32_t, int> from_char;
  ByteTables() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      to_char[b] = printable ? b : 256 + n++;
      from_char[to_char[b]] = b;
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

int32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

int byte_from_char(int32_t cp) {
  const auto& m = tables().from_char;
  auto it = m.find(cp);
  return it == m.end() ? -1 : it->second;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8_append(out, byte_to_char(b));
  return out;
}

std::string byte_level_to_bytes(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    int32_t cp = utf8_next(text, i);
    int b = cp >= 0 ? byte_from_char(cp) : -1;
    if (b >= 0) out += static_cast<char>(b);
    else out.append(text.data() + start, i - start);
  }
  return out;
}

void BpeModel::build(const std::vector<std::pair<std::string, int32_t>>& vocab,
                     const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                     const std::string& source) {
  ignore_merges_ = ignore_merges;
  int32_t max_id = -1;
  for (const auto& [t, id] : vocab) {
    if (id < 0) throw TextError(source + ": model.vocab: negative id for token '" + t + "'");
    max_id = std::max(max_id, id);
  }
  id_bytes_.assign(max_id + 1, std::string());
  id_text_.assign(max_id + 1, std::string());
  id_present_.assign(max_id + 1, false);
  std::unordered_map<std::string, int32_t> text_to_id;
  text_to_id.reserve(vocab.size() * 2);
  bytes_to_id_.reserve(vocab.size() * 2);
  for (const auto& [t, id] : vocab) {
    id_text_[id] = t;
    id_bytes_[id] = byte_level_to_bytes(t);
    id_present_[id] = true;
    text_to_id[t] = id;
    bytes_to_id_.emplace(id_bytes_[id], id);
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(ch, byte_to_char(static_cast<uint8_t>(b)));
    auto it = text_to_id.find(ch);
    if (it == text_to_id.end())
      throw TextError(source + ": model.vocab lacks the byte symbol for byte " + std::to_string(b) +
                        " (not a byte-level BPE vocabulary)");
    byte_ids_[b] = it->second;
  }
  merges_.clear();
  merges_.reserve(merges.size() * 2);
  merge_list_.clear();
  merge_list_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [l, rgt] = merges[r];
    auto li = text_to_id.find(l), ri = text_to_id.find(rgt), ni = text_to_id.find(l + rgt);
    if (li == text_to_id.end() || ri == text_to_id.end() || ni == text_to_id.end())
      throw TextError(source + ": merge " + std::to_string(r) + " ('" + l + "' '" + rgt +
                        "') uses a token that is not in model.vocab");
    uint64_t key = (static_cast<uint64_t>(li->second) << 32) | static_cast<uint32_t>(ri->second);
    merges_.emplace(key, MergeInfo{static_cast<int32_t>(r), ni->second});  // first (lowest rank) wins
    merge_list_.emplace_back(li->second, ri->second);
  }
}

int32_t BpeModel::id_of_bytes(std::string_view bytes) const {
  auto it = bytes_to_id_.find(std::string(bytes));
  return it == bytes_to_id_.end() ? -1 : it->second;
}

void BpeModel::merge_word(std::vector<int32_t>& sym) const {
  const size_t n = sym.size();
  if (n < 2) return;
  if (n <= 8) {
    // Short words: repeated scans beat a heap.
    while (sym.size() > 1) {
      int32_t best_rank = INT32_MAX, best_id = -1;
      size_t best_pos = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        auto it = merges_.find((static_cast<uint64_t>(sym[i]) << 32) | static_cast<uint32_t>(sym[i + 1]));
        if (it != merges_.end() && it->second.rank < best_rank) {
          best_rank = it->second.rank;
          best_id = it->second.new_id;
          best_pos = i;
        }
      }
      if (best_id < 0) break;
      sym[best_pos] = best_id;
      sym.erase(sym.begin() + static_cast<long>(best_pos) + 1);
    }
    return;
  }
  // Long words: linked list + min-heap of candidate merges keyed by (rank, position), with stale
  // entries skipped — O(n log n), the same order of merges as the scan above.
  std::vector<int32_t> prev(n), next(n), id(sym);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    int32_t rank, pos, new_id, left, right;  // left/right ids at push time, to detect staleness
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    int32_t j = next[i];
    auto it = merges_.find((static_cast<uint64_t>(id[i]) << 32) | static_cast<uint32_t>(id[j]));
    if (it != merges_.end()) heap.push({it->second.rank, i, it->second.new_id, id[i], id[j]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    int32_t i = c.pos;
    if (!alive[i] || next[i] < 0 || id[i] != c.left || id[next[i]] != c.right) continue;
    int32_t j = next[i];
    id[i] = c.new_id;
    alive[j] = false;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  sym.clear();
  for (int32_t i = 0; i >= 0; i = next[i]) sym.push_back(id[i]);
}

void BpeModel::encode(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  struct Cache {
    const BpeModel* owner = nullptr;
    std::unordered_map<std::string, std::vector<int32_t>> map;
  };
  thread_local Cache cache;
  if (cache.owner != this) {
    cache.map.clear();
    cache.owner = this;
  }
  bool cacheable = bytes.size() < 256;
  if (cacheable) {
    auto it = cache.map.find(std::string(bytes));
    if (it != cache.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> sym;
  if (ignore_merges_) {
    int32_t whole = id_of_bytes(bytes);
    if (whole >= 0) sym.push_back(whole);
  }
  if (sym.empty()) {
    sym.reserve(bytes.size());
    for (unsigned char b : bytes) sym.push_back(byte_ids_[b]);
    merge_word(sym);
  }
  out.insert(out.end(), sym.begin(), sym.end());
  if (cacheable) {
    if (cache.map.size() > 50000) cache.map.clear();
    cache.map.emplace(std::string(bytes), std::move(sym));
  }
}

}  // namespace r1::text
