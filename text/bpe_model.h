// Byte-level BPE: a piece's bytes start as one symbol each (GPT-2's byte alphabet) and merge by
// rank, lowest first, leftmost on ties, exactly as Hugging Face's BPE model does. Encodings of
// recent pieces are cached per thread (most words repeat).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace r1::text {

// GPT-2's reversible byte <-> printable code point table.
int32_t byte_to_char(uint8_t b);
int byte_from_char(int32_t cp);  // -1 when cp is not in the byte alphabet
std::string bytes_to_byte_level(std::string_view bytes);  // bytes -> byte-level UTF-8 text
// Byte-level text -> bytes; characters outside the alphabet keep their own UTF-8 (special tokens).
std::string byte_level_to_bytes(std::string_view text);

class BpeModel {
 public:
  // vocab: byte-level token text -> id; merges in rank order as (left, right) byte-level texts.
  void build(const std::vector<std::pair<std::string, int32_t>>& vocab,
             const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
             const std::string& source);

  // Appends the ids of one piece (raw bytes, already pre-tokenized).
  void encode(std::string_view bytes, std::vector<int32_t>& out) const;

  int32_t vocab_size() const { return static_cast<int32_t>(id_bytes_.size()); }  // max id + 1
  const std::string& bytes_of(int32_t id) const { return id_bytes_[id]; }
  bool has_id(int32_t id) const { return id >= 0 && id < vocab_size() && id_present_[id]; }
  const std::string& text_of(int32_t id) const { return id_text_[id]; }  // byte-level form
  int32_t id_of_bytes(std::string_view bytes) const;  // -1 when absent
  size_t merge_count() const { return merges_.size(); }
  const std::vector<std::pair<int32_t, int32_t>>& merge_list() const { return merge_list_; }

 private:
  void merge_word(std::vector<int32_t>& symbols) const;

  int32_t byte_ids_[256];
  struct MergeInfo {
    int32_t rank;
    int32_t new_id;
  };
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::vector<std::pair<int32_t, int32_t>> merge_list_;  // rank -> (left id, right id)
  std::vector<std::string> id_bytes_;
  std::vector<std::string> id_text_;
  std::vector<bool> id_present_;
  std::unordered_map<std::string, int32_t> bytes_to_id_;
  bool ignore_merges_ = false;
};

}  // namespace r1::text
