#include "cli/json_lines.h"

#include <cstdio>
#include <filesystem>

#include "cli/cli_common.h"

namespace r1::cli {

void for_each_json_line(const std::string& path, const std::function<void(int64_t, const Json&)>& fn, bool skip_bad) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open (check the path)");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::string msg = path + ":" + std::to_string(n) + ": not a JSON object";
      if (!skip_bad) throw InputError(msg);
      std::cerr << "r1: warning: " << msg << " (skipped)\n";
      continue;
    }
    fn(n, j);
  }
}

LineWriter::LineWriter(const std::string& path) : path_(path) {
  if (path.empty()) return;
  tmp_ = path + ".tmp";
  file_ = std::make_unique<std::ofstream>(tmp_, std::ios::binary | std::ios::trunc);
  if (!*file_) throw InputError(path + ": cannot write");
}

LineWriter::~LineWriter() {
  if (file_ && !closed_) {
    file_->close();
    std::remove(tmp_.c_str());  // an unfinished output never replaces an existing file
  }
}

void LineWriter::write(const Json& j) { write_raw(dump(j)); }

void LineWriter::write_raw(const std::string& line) {
  if (file_) *file_ << line << '\n';
  else std::cout << line << '\n' << std::flush;
}

void LineWriter::close() {
  if (!file_ || closed_) return;
  file_->close();
  if (!*file_) throw JobError(path_ + ": write failed (disk full?)");
  std::filesystem::rename(tmp_, path_);
  closed_ = true;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace r1::cli
