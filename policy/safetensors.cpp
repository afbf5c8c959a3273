// mmap-backed safetensors reader and atomic writer.
#include "policy/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "policy/policy_error.h"
#include "policy/safetensors_format.h"

namespace r1::policy {

namespace {

struct Mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

torch::ScalarType to_torch(SafeDType t) {
  switch (t) {
    case SafeDType::F64: return torch::kFloat64;
    case SafeDType::F32: return torch::kFloat32;
    case SafeDType::F16: return torch::kFloat16;
    case SafeDType::BF16: return torch::kBFloat16;
    case SafeDType::I64: return torch::kInt64;
    case SafeDType::I32: return torch::kInt32;
    case SafeDType::I16: return torch::kInt16;
    case SafeDType::I8: return torch::kInt8;
    case SafeDType::U8: return torch::kUInt8;
    case SafeDType::BOOL: return torch::kBool;
  }
  return torch::kFloat32;
}

const char* from_torch(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kFloat64: return "F64";
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: throw PolicyError("safetensors: tensor '" + name + "' has a dtype safetensors cannot store");
  }
}

}  // namespace

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw PolicyError(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  fstat(fd, &st);
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0) map->addr = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->size > 0 && map->addr == MAP_FAILED) throw PolicyError(path + ": cannot map (" + std::strerror(errno) + ")");
  const uint8_t* base = map->size > 0 ? static_cast<const uint8_t*>(map->addr) : reinterpret_cast<const uint8_t*>("");
  SafeTensorsHeader h = parse_safetensors_header(base, map->size, path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : h.entries) {
    auto dtype = to_torch(e.dtype);
    uint8_t* ptr = const_cast<uint8_t*>(base) + h.data_offset + e.begin;
    auto opts = torch::TensorOptions().dtype(dtype);
    torch::Tensor t;
    if (reinterpret_cast<uintptr_t>(ptr) % safe_dtype_size(e.dtype) == 0 && e.end > e.begin) {
      auto keep = map;  // the tensor keeps the mapping alive
      t = torch::from_blob(ptr, e.shape, [keep](void*) {}, opts);
    } else {
      t = torch::empty(e.shape, opts);
      if (e.end > e.begin) std::memcpy(t.data_ptr(), ptr, e.end - e.begin);
    }
    out[e.name] = t;
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Value header(Value::Object{});
  if (!metadata.empty()) {
    Value meta(Value::Object{});
    for (const auto& [k, v] : metadata) meta.set(k, Value(v));
    header.set("__metadata__", meta);
  }
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t0] : tensors) {
    auto t = t0.detach().to(torch::kCPU).contiguous();
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    Value e(Value::Object{});
    e.set("dtype", Value(from_torch(t.scalar_type(), name)));
    Value::Array shape;
    for (auto s : t.sizes()) shape.emplace_back(static_cast<int64_t>(s));
    e.set("shape", Value(shape));
    e.set("data_offsets", Value(Value::Array{Value(static_cast<int64_t>(offset)), Value(static_cast<int64_t>(offset + bytes))}));
    header.set(name, e);
    data.push_back(t);
    offset += bytes;
  }
  std::string json = to_json(header);
  while ((8 + json.size()) % 8 != 0) json += ' ';  // data starts 8-byte aligned
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw PolicyError(path + ": cannot write");
    uint64_t n = json.size();
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) throw PolicyError(path + ": write failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace r1::policy
