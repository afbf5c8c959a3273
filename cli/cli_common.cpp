// Output helpers and the interrupt flag.
#include "cli/cli_common.h"

#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>

namespace r1::cli {

std::atomic<bool> g_interrupted{false};

static void on_signal(int) {
  // A second Ctrl-C means "now": restore the default action so it kills the process.
  if (g_interrupted.exchange(true)) {
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

experiments::RunStore Context::open_store(bool read_only, bool create) const {
  experiments::RunStore::Options o;
  o.read_only = read_only;
  o.create = create;
  return experiments::RunStore::open(db_path, o);
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) != 0; }

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  double a = std::fabs(v);
  char buf[64];
  if (a != 0 && (a < 1e-3 || a >= 1e7))
    std::snprintf(buf, sizeof buf, "%.3e", v);
  else if (a == std::floor(a) && a < 1e7)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string format_time(double t) {
  if (t <= 0) return "";
  time_t s = static_cast<time_t>(t);
  struct tm tm {};
  localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_duration_short(double s) {
  char buf[32];
  if (s < 0) return "";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

std::string sparkline(const std::vector<double>& values, size_t width) {
  static const char* bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (values.empty()) return "";
  // Average into at most `width` buckets, so long runs still fit on one line.
  std::vector<double> pts;
  size_t n = values.size(), w = std::min(width, n);
  for (size_t b = 0; b < w; ++b) {
    size_t lo = b * n / w, hi = std::max(lo + 1, (b + 1) * n / w);
    double sum = 0;
    for (size_t i = lo; i < hi; ++i) sum += values[i];
    pts.push_back(sum / double(hi - lo));
  }
  auto [mn, mx] = std::minmax_element(pts.begin(), pts.end());
  std::string out;
  for (double p : pts) {
    int level = (*mx - *mn) > 0 ? static_cast<int>(std::lround((p - *mn) / (*mx - *mn) * 7)) : 3;
    out += bars[std::clamp(level, 0, 7)];
  }
  return out;
}

static size_t display_width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;
  return w;
}

void print_table(const experiments::ResultSet& rs, bool json) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& row : rs.rows) {
      nlohmann::json obj = nlohmann::json::object();
      for (size_t i = 0; i < rs.columns.size(); ++i) {
        const auto& c = row[i];
        if (auto* iv = std::get_if<int64_t>(&c)) obj[rs.columns[i]] = *iv;
        else if (auto* dv = std::get_if<double>(&c)) obj[rs.columns[i]] = std::isfinite(*dv) ? nlohmann::json(*dv) : nlohmann::json();
        else if (auto* sv = std::get_if<std::string>(&c)) obj[rs.columns[i]] = *sv;
        else obj[rs.columns[i]] = nullptr;
      }
      arr.push_back(std::move(obj));
    }
    std::cout << arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> text;
  std::vector<size_t> width(rs.columns.size());
  std::vector<bool> numeric(rs.columns.size(), true);
  for (size_t i = 0; i < rs.columns.size(); ++i) width[i] = display_width(rs.columns[i]);
  for (const auto& row : rs.rows) {
    std::vector<std::string> t;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string s;
      if (auto* dv = std::get_if<double>(&row[i])) s = format_number(*dv);
      else s = experiments::cell_text(row[i]);
      if (std::holds_alternative<std::string>(row[i])) numeric[i] = false;
      // One line per row: newlines in text cells would break the table.
      for (auto& ch : s)
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
      if (display_width(s) > 60) s = s.substr(0, 57) + "...";
      width[i] = std::max(width[i], display_width(s));
      t.push_back(std::move(s));
    }
    text.push_back(std::move(t));
  }
  auto emit = [&](const std::vector<std::string>& cells, bool header) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      size_t pad = width[i] - display_width(cells[i]);
      bool right = numeric[i] && !header;
      if (i) line += "  ";
      if (right) line += std::string(pad, ' ') + cells[i];
      else line += cells[i] + (i + 1 < cells.size() ? std::string(pad, ' ') : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  emit(rs.columns, true);
  for (const auto& t : text) emit(t, false);
}

std::string asset_dir() {
  namespace fs = std::filesystem;
  std::vector<fs::path> tried;
  auto holds_recipes = [&](const fs::path& d) {
    tried.push_back(d);
    std::error_code ec;
    return fs::is_regular_file(d / "recipes" / "demo-base.toml", ec);
  };
  if (const char* env = std::getenv("R1_ASSETS"); env && *env) {
    if (holds_recipes(env)) return env;
    throw InputError(std::string("R1_ASSETS=") + env + ": no recipes/demo-base.toml there");
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = (self.parent_path() / ".." / "share" / "r1forge").lexically_normal();
    if (holds_recipes(installed)) return installed.string();
  }
#ifdef R1_SOURCE_ASSETS
  if (holds_recipes(R1_SOURCE_ASSETS)) return R1_SOURCE_ASSETS;
#endif
  std::string places;
  for (const auto& t : tried) places += (places.empty() ? "" : ", ") + t.string();
  throw InputError("r1's demo recipes not found (tried " + places + "); set R1_ASSETS or pass --recipes");
}

}  // namespace r1::cli
