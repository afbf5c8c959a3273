#include "rollout/weight_sync.h"

#include <cstring>

#include "rollout/byte_codec.h"

namespace r1::rollout {

using wire::WireError;

namespace {

constexpr uint8_t kFormat = 1;

struct Piece {  // a byte range of one tensor
  std::string name;
  torch::Tensor cpu;  // contiguous
  uint64_t offset = 0, length = 0;
};

std::string chunk_bytes(const std::vector<Piece>& pieces, int64_t version, uint32_t index, uint32_t count) {
  ByteWriter w;
  w.put<uint8_t>(kFormat);
  w.put<int64_t>(version);
  w.put<uint32_t>(index);
  w.put<uint32_t>(count);
  w.put<uint32_t>(static_cast<uint32_t>(pieces.size()));
  for (const Piece& p : pieces) {
    w.put_string(p.name);
    w.put<int8_t>(static_cast<int8_t>(p.cpu.scalar_type()));
    w.put<uint8_t>(static_cast<uint8_t>(p.cpu.dim()));
    for (int64_t d = 0; d < p.cpu.dim(); ++d) w.put<int64_t>(p.cpu.size(d));
    w.put<uint64_t>(p.offset);
    w.put<uint64_t>(p.length);
    w.raw(static_cast<const char*>(p.cpu.data_ptr()) + p.offset, p.length);
  }
  return w.take();
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

uint64_t nbytes(const torch::Tensor& t) { return static_cast<uint64_t>(t.numel()) * t.element_size(); }

}  // namespace

std::vector<std::string> encode_weights(const StateDict& state, int64_t version, size_t max_chunk) {
  if (max_chunk == 0) max_chunk = 1;
  // Cut every tensor's bytes into pieces that fill chunks of at most max_chunk data bytes.
  std::vector<std::vector<Piece>> chunks(1);
  uint64_t room = max_chunk;
  for (const auto& [name, t] : state) {
    torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    const uint64_t total = nbytes(cpu);
    uint64_t offset = 0;
    do {
      if (room == 0) {
        chunks.emplace_back();
        room = max_chunk;
      }
      const uint64_t length = std::min(room, total - offset);
      chunks.back().push_back({name, cpu, offset, length});
      offset += length;
      room -= length;
    } while (offset < total);
  }
  std::vector<std::string> out;
  for (uint32_t i = 0; i < chunks.size(); ++i) out.push_back(chunk_bytes(chunks[i], version, i, static_cast<uint32_t>(chunks.size())));
  return out;
}

WeightsReceiver::WeightsReceiver(StateDict target) : target_(std::move(target)) {}

bool WeightsReceiver::add(std::string_view s) {
  ByteReader in(s, "weights");
  if (const auto f = in.get<uint8_t>("format"); f != kFormat) throw WireError("weights: format " + std::to_string(f));
  const auto version = in.get<int64_t>("version");
  const auto index = in.get<uint32_t>("chunk");
  const auto count = in.get<uint32_t>("chunks");
  if (index == 0) {  // a new version starts; one half-received is dropped (its connection was lost)
    receiving_ = version;
    chunks_seen_ = 0;
    chunks_expected_ = count;
    bytes_written_.clear();
    staging_.clear();
  }
  if (version != receiving_ || index != chunks_seen_ || count != chunks_expected_ || count == 0)
    throw WireError("weights: chunk " + std::to_string(index) + "/" + std::to_string(count) + " of version " + std::to_string(version) +
                    " arrived while receiving chunk " + std::to_string(chunks_seen_) + "/" + std::to_string(chunks_expected_) +
                    " of version " + std::to_string(receiving_));
  const auto pieces = in.get<uint32_t>("pieces");
  for (uint32_t i = 0; i < pieces; ++i) {
    const std::string name = in.get_string("name");
    auto it = target_.find(name);
    if (it == target_.end()) throw WireError("weights: \"" + name + "\" is not a tensor of this worker's model");
    const torch::Tensor& dst = it->second;
    const auto dtype = static_cast<c10::ScalarType>(in.get<int8_t>("dtype"));
    const auto dims = in.get<uint8_t>("dims");
    std::vector<int64_t> shape;
    for (uint8_t d = 0; d < dims; ++d) shape.push_back(in.get<int64_t>("shape"));
    if (dtype != dst.scalar_type() || shape != dst.sizes().vec())
      throw WireError("weights: \"" + name + "\" arrives as " + c10::toString(dtype) + " " + shape_text(shape) + ", this worker's is " +
                      c10::toString(dst.scalar_type()) + " " + shape_text(dst.sizes().vec()));
    const auto offset = in.get<uint64_t>("offset");
    const auto length = in.get<uint64_t>("length");
    const uint64_t total = nbytes(dst);
    if (offset != static_cast<uint64_t>(bytes_written_[name]) || offset > total || length > total - offset)
      throw WireError("weights: \"" + name + "\": bytes " + std::to_string(offset) + "+" + std::to_string(length) + " do not continue its " +
                      std::to_string(bytes_written_[name]) + " of " + std::to_string(total));
    auto& stage = staging_[name];
    if (!stage.defined()) stage = torch::empty(dst.sizes(), dst.options().device(torch::kCPU)).contiguous();
    std::memcpy(static_cast<char*>(stage.data_ptr()) + offset, in.raw(length, "data"), length);
    bytes_written_[name] += static_cast<int64_t>(length);
  }
  in.done();
  if (++chunks_seen_ < chunks_expected_) return false;
  // The whole version is here: check every tensor is complete, then switch in one go.
  for (const auto& [name, dst] : target_)
    if (static_cast<uint64_t>(bytes_written_[name]) != nbytes(dst))
      throw WireError("weights: version " + std::to_string(version) + " ended without all of \"" + name + "\"");
  torch::NoGradGuard ng;
  for (auto& [name, dst] : target_) dst.copy_(staging_.at(name));
  staging_.clear();
  version_ = version;
  return true;
}

}  // namespace r1::rollout
