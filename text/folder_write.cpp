#include "text/folder_write.h"

#include <unistd.h>

#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace r1::text {

void write_folder_atomically(const std::string& dir, const std::function<void(const std::string&)>& write) {
  fs::path target(dir);
  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent);
  std::random_device rd;
  fs::path tmp = parent / (target.filename().string() + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    write(tmp.string());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  if (!fs::exists(target)) {
    fs::rename(tmp, target);
    return;
  }
  // An existing folder keeps the files this write does not produce (a user's README, say); each
  // file we write replaces its namesake, and a sub-folder we write replaces the old one whole.
  for (const auto& entry : fs::directory_iterator(tmp)) {
    fs::path dest = target / entry.path().filename();
    if (entry.is_directory() && fs::exists(dest)) fs::remove_all(dest);
    fs::rename(entry.path(), dest);
  }
  fs::remove_all(tmp);
}

}  // namespace r1::text
