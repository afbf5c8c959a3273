// The binder's helpers: durations ("2s", "500ms", "1.5m") and sizes ("256M", "1G"), typo
// suggestions, and values as the user would write them.
#include "text/value_binder.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace r1::text {

static bool split_number(const std::string& text, double& value, std::string& unit) {
  const char* s = text.c_str();
  char* end = nullptr;
  value = std::strtod(s, &end);
  if (end == s) return false;
  unit.assign(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  return std::isfinite(value);
}

double parse_duration_seconds(const std::string& text, bool& ok) {
  double v = 0;
  std::string unit;
  ok = split_number(text, v, unit);
  if (!ok) return 0;
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000.0;
  if (unit == "us") return v / 1e6;
  if (unit == "m" || unit == "min") return v * 60.0;
  if (unit == "h") return v * 3600.0;
  ok = false;
  return 0;
}

int64_t parse_byte_size(const std::string& text, bool& ok) {
  double v = 0;
  std::string unit;
  ok = split_number(text, v, unit);
  if (!ok || v < 0) return ok = false, 0;
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() == 2 && (unit[1] == 'i')) unit.pop_back();  // "Mi" -> "M"
  double mult = 1;
  if (unit.empty()) mult = 1;
  else if (unit == "K" || unit == "k") mult = 1024.0;
  else if (unit == "M" || unit == "m") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else return ok = false, 0;
  return static_cast<int64_t>(std::llround(v * mult));
}

std::string format_duration(double seconds) {
  char buf[64];
  if (seconds != 0 && seconds < 1 && std::fabs(seconds * 1000 - std::round(seconds * 1000)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%gms", seconds * 1000);
  else
    std::snprintf(buf, sizeof buf, "%gs", seconds);
  return buf;
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  int64_t v = bytes;
  while (u < 4 && v != 0 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + units[u];
}

static size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Transposition counts as one edit ("lr_shcedule").
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // A typo changes a few characters; beyond a third of the word it is a different word.
  size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

std::string resolve_path(const std::string& written, const Origin& origin) {
  namespace fs = std::filesystem;
  if (written.empty()) return written;
  std::error_code ec;
  fs::path p;
  if (written == "~" || written.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    p = fs::path(home && *home ? home : "/") / written.substr(std::min<size_t>(2, written.size()));
  } else {
    p = written;
    if (p.is_relative() && !origin.file.empty() && fs::is_regular_file(origin.file, ec))
      p = fs::path(origin.file).parent_path() / p;
  }
  fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

bool ConfigReader::path_exists(const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

std::string display(const Value& v) {
  if (v.is_object()) return "{...}";
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + display(v[i]);
    return s + "]";
  }
  return to_json(v, true);
}

}  // namespace r1::text
