// `r1 runs plot RUN [RUN ...] --metric KEY [--metric KEY ...] --out FILE.svg`: one line chart per
// metric, stacked, with axes, ticks and a legend; one colour per run. Plain SVG, written
// atomically.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli_common.h"
#include "cli/run_views.h"

namespace r1::cli {

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

// "Nice" tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
  if (hi <= lo) hi = lo + 1;
  double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return out;
}

std::string num(double v) {
  char b[32];
  if (std::fabs(v) >= 1e4 || (std::fabs(v) < 1e-3 && v != 0)) std::snprintf(b, sizeof b, "%.1e", v);
  else std::snprintf(b, sizeof b, "%g", std::round(v * 1e4) / 1e4);
  return b;
}

}  // namespace

void add_plot_command(CLI::App& runs, Context& ctx) {
  struct Args {
    std::vector<std::string> runs, metrics;
    std::string out;
    int64_t smooth = 1;
    std::string title;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("plot", "Line charts of metrics over steps (SVG), one colour per run");
  c->add_option("runs", a->runs, "run ids or names")->required()->expected(1, -1);
  c->add_option("--metric", a->metrics, "metric key (repeatable)")->required();
  c->add_option("--out,-o", a->out, "output .svg file")->required();
  c->add_option("--smooth", a->smooth, "moving-average window in steps (1 = raw)")->check(CLI::PositiveNumber);
  c->add_option("--title", a->title, "title above the charts");
  c->callback([a, &ctx] {
    if (a->out.size() < 4 || a->out.substr(a->out.size() - 4) != ".svg") throw InputError("--out " + a->out + ": only .svg is supported");
    auto store = ctx.open_store(false, false);
    std::vector<experiments::RunInfo> list;
    for (const auto& r : a->runs) list.push_back(resolve_run(store, r));
    const int W = 760, H = 230, left = 70, right = 20, top = 34, bottom = 42, gap = 16;
    const int legend_h = 22 * static_cast<int>((list.size() + 2) / 3) + 10;
    const int title_h = a->title.empty() ? 0 : 30;
    const int total_h = title_h + static_cast<int>(a->metrics.size()) * (H + gap) + legend_h;
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << total_h << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    if (!a->title.empty()) svg << "<text x=\"" << W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" << esc(a->title) << "</text>\n";
    bool any = false;
    for (size_t mi = 0; mi < a->metrics.size(); ++mi) {
      const std::string& key = a->metrics[mi];
      const int y0 = title_h + static_cast<int>(mi) * (H + gap);
      std::vector<std::vector<std::pair<double, double>>> series;
      double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
      for (const auto& r : list) {
        auto pts = store.metric_series(r.id, key);
        std::vector<std::pair<double, double>> s;
        for (size_t i = 0; i < pts.size(); ++i) {
          // Trailing moving average over `smooth` points.
          double sum = 0;
          size_t n = 0;
          for (size_t j = i + 1 > static_cast<size_t>(a->smooth) ? i + 1 - static_cast<size_t>(a->smooth) : 0; j <= i; ++j, ++n) sum += pts[j].value;
          double y = sum / static_cast<double>(n);
          s.emplace_back(static_cast<double>(pts[i].step), y);
          xmin = std::min(xmin, s.back().first);
          xmax = std::max(xmax, s.back().first);
          ymin = std::min(ymin, y);
          ymax = std::max(ymax, y);
        }
        series.push_back(std::move(s));
      }
      svg << "<text x=\"" << left << "\" y=\"" << y0 + 20 << "\" font-size=\"13\" font-weight=\"bold\">" << esc(key)
          << (a->smooth > 1 ? " (moving average of " + std::to_string(a->smooth) + ")" : "") << "</text>\n";
      if (!std::isfinite(xmin)) {
        svg << "<text x=\"" << W / 2 << "\" y=\"" << y0 + H / 2 << "\" text-anchor=\"middle\" fill=\"#888\">no data for " << esc(key) << "</text>\n";
        continue;
      }
      any = true;
      if (xmax == xmin) xmax = xmin + 1;
      double pad = (ymax - ymin) * 0.05;
      if (pad == 0) pad = std::max(1e-3, std::fabs(ymax) * 0.05);
      ymin -= pad;
      ymax += pad;
      const int px0 = left, px1 = W - right, py0 = y0 + top, py1 = y0 + H - bottom;
      auto X = [&](double x) { return px0 + (x - xmin) / (xmax - xmin) * (px1 - px0); };
      auto Y = [&](double y) { return py1 - (y - ymin) / (ymax - ymin) * (py1 - py0); };
      svg << "<rect x=\"" << px0 << "\" y=\"" << py0 << "\" width=\"" << px1 - px0 << "\" height=\"" << py1 - py0
          << "\" fill=\"none\" stroke=\"#444\"/>\n";
      for (double t : ticks(ymin, ymax)) {
        svg << "<line x1=\"" << px0 << "\" x2=\"" << px1 << "\" y1=\"" << Y(t) << "\" y2=\"" << Y(t) << "\" stroke=\"#e5e5e5\"/>\n";
        svg << "<text x=\"" << px0 - 6 << "\" y=\"" << Y(t) + 4 << "\" text-anchor=\"end\">" << num(t) << "</text>\n";
      }
      for (double t : ticks(xmin, xmax, 8)) {
        svg << "<line x1=\"" << X(t) << "\" x2=\"" << X(t) << "\" y1=\"" << py1 << "\" y2=\"" << py1 + 4 << "\" stroke=\"#444\"/>\n";
        svg << "<text x=\"" << X(t) << "\" y=\"" << py1 + 16 << "\" text-anchor=\"middle\">" << num(t) << "</text>\n";
      }
      svg << "<text x=\"" << (px0 + px1) / 2 << "\" y=\"" << py1 + 32 << "\" text-anchor=\"middle\" fill=\"#444\">step</text>\n";
      for (size_t ri = 0; ri < series.size(); ++ri) {
        if (series[ri].empty()) continue;
        svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << kColors[ri % 8] << "\" points=\"";
        for (const auto& [x, y] : series[ri]) svg << X(x) << "," << Y(y) << " ";
        svg << "\"/>\n";
      }
    }
    if (!any) throw InputError("runs plot: none of the runs has the metric(s) " + a->metrics.front() + (a->metrics.size() > 1 ? ", ..." : ""));
    const int ly = title_h + static_cast<int>(a->metrics.size()) * (H + gap);
    for (size_t ri = 0; ri < list.size(); ++ri) {
      int lx = left + static_cast<int>(ri % 3) * 230, row = ly + 14 + 22 * static_cast<int>(ri / 3);
      svg << "<line x1=\"" << lx << "\" x2=\"" << lx + 24 << "\" y1=\"" << row << "\" y2=\"" << row << "\" stroke-width=\"3\" stroke=\"" << kColors[ri % 8] << "\"/>\n";
      svg << "<text x=\"" << lx + 30 << "\" y=\"" << row + 4 << "\">run " << list[ri].id << ": " << esc(list[ri].name) << "</text>\n";
    }
    svg << "</svg>\n";
    std::string tmp = a->out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      if (!out) throw InputError(a->out + ": cannot write");
      out << svg.str();
    }
    std::filesystem::rename(tmp, a->out);
    if (!ctx.quiet) std::cerr << "wrote " << a->out << "\n";
  });
}

}  // namespace r1::cli
