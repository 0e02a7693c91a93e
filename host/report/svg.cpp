#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/embed.h"

namespace medadv::host {

namespace {

// Tableau 10: distinguishable, and readable on white.
const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const char* colour(std::size_t i) { return kPalette[i % (sizeof kPalette / sizeof *kPalette)]; }

constexpr double kWidth = 600, kHeight = 340;
constexpr double kLeft = 62, kRight = 170, kTop = 34, kBottom = 56;
constexpr double kPlotWidth = kWidth - kLeft - kRight, kPlotHeight = kHeight - kTop - kBottom;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string tick_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};

double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

// Enough for any readable axis; also the bound on the tick loop below, whatever the data.
constexpr double kMaxTicks = 20;

// An axis over [lo, hi] (widened when degenerate), extended to whole ticks.
Axis nice_axis(double lo, double hi, bool extend) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  // A span the doubles hardly resolve (1e17 .. 1e17 + 16) counts as degenerate: a step
  // below the values' spacing would never move a tick forward.
  const double scale = std::max(std::abs(lo), std::abs(hi));
  if (!(hi - lo > scale * 1e-9)) {
    const double pad = scale == 0 ? 1.0 : scale * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, 5);
  Axis a;
  a.lo = extend ? std::floor(lo / step + 1e-9) * step : lo;
  a.hi = extend ? std::ceil(hi / step - 1e-9) * step : hi;
  const double first = std::ceil(a.lo / step - 1e-9) * step;
  const double count = std::floor((a.hi - first) / step + 1e-9) + 1;
  if (!(count >= 1 && count <= kMaxTicks)) {  // a span at the edge of double range (1e308)
    a.ticks = {a.lo, a.hi};
    return a;
  }
  for (int i = 0; i < static_cast<int>(count); ++i) a.ticks.push_back(first + step * i);
  return a;
}

// The finite values among `values`: a NaN or infinity has no place on an axis.
std::vector<double> finite_only(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values)
    if (std::isfinite(v)) out.push_back(v);
  return out;
}

// Unit-interval data (accuracies, rates, AUC) keeps the [0, 1] axis so charts compare.
Axis value_axis(const std::vector<double>& all_values, bool include_zero) {
  const std::vector<double> values = finite_only(all_values);
  if (values.empty()) return nice_axis(0, 1, true);
  double lo = *std::min_element(values.begin(), values.end());
  double hi = *std::max_element(values.begin(), values.end());
  if (lo >= 0 && hi <= 1) return nice_axis(0, 1, true);
  if (include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  return nice_axis(lo, hi, true);
}

double to_x(const Axis& a, double v) { return kLeft + (v - a.lo) / (a.hi - a.lo) * kPlotWidth; }
double to_y(const Axis& a, double v) { return kTop + kPlotHeight - (v - a.lo) / (a.hi - a.lo) * kPlotHeight; }

std::string open_svg(const std::string& title) {
  return "<svg class=\"chart\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) +
         "\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\">\n<rect x=\"0\" y=\"0\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) +
         "\" fill=\"#fff\"/>\n<text x=\"" + num(kWidth / 2) + "\" y=\"20\" text-anchor=\"middle\" class=\"chart-title\">" +
         html_escape(title) + "</text>\n";
}

std::string y_axis(const Axis& y, const std::string& label) {
  std::string out;
  for (double t : y.ticks) {
    const double py = to_y(y, t);
    out += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(py) + "\" x2=\"" + num(kLeft + kPlotWidth) + "\" y2=\"" + num(py) +
           "\" class=\"grid\"/>\n<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py + 4) + "\" text-anchor=\"end\">" +
           tick_text(t) + "</text>\n";
  }
  out += "<text transform=\"translate(16," + num(kTop + kPlotHeight / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         html_escape(label) + "</text>\n";
  out += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(kPlotWidth) + "\" height=\"" +
         num(kPlotHeight) + "\" class=\"frame\"/>\n";
  return out;
}

std::string x_label(const std::string& label) {
  return "<text x=\"" + num(kLeft + kPlotWidth / 2) + "\" y=\"" + num(kHeight - 10) + "\" text-anchor=\"middle\">" +
         html_escape(label) + "</text>\n";
}

std::string legend_entry(std::size_t i, const std::string& name, const char* stroke, bool dashed, bool bar) {
  const double y = kTop + 8 + 18 * static_cast<double>(i);
  const double x = kLeft + kPlotWidth + 14;
  std::string shown = name.size() > 22 ? name.substr(0, 21) + "\xE2\x80\xA6" : name;
  std::string out = "<g><title>" + html_escape(name) + "</title>";
  if (bar)
    out += "<rect x=\"" + num(x) + "\" y=\"" + num(y - 6) + "\" width=\"18\" height=\"10\" fill=\"" + stroke + "\"/>";
  else
    out += "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 18) + "\" y2=\"" + num(y) + "\" stroke=\"" +
           stroke + "\" stroke-width=\"2\"" + (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
  out += "<text x=\"" + num(x + 24) + "\" y=\"" + num(y + 4) + "\">" + html_escape(shown) + "</text></g>\n";
  return out;
}

}  // namespace

std::string svg_line_plot(const LinePlot& plot) {
  std::vector<double> xs, ys;
  for (const auto& s : plot.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  for (const auto& [x, label] : plot.x_ticks) xs.push_back(x);
  xs = finite_only(xs);
  Axis x_axis;
  if (plot.x_range) {
    x_axis = nice_axis(plot.x_range->first, plot.x_range->second, false);
  } else if (xs.empty()) {
    x_axis = nice_axis(0, 1, true);
  } else {
    const double lo = *std::min_element(xs.begin(), xs.end()), hi = *std::max_element(xs.begin(), xs.end());
    const double pad = hi > lo ? (hi - lo) * 0.05 : 0.0;
    x_axis = nice_axis(lo - pad, hi + pad, false);
  }
  const Axis y = plot.y_range ? nice_axis(plot.y_range->first, plot.y_range->second, false) : value_axis(ys, false);

  std::string out = open_svg(plot.title) + y_axis(y, plot.y_label) + x_label(plot.x_label);
  if (plot.x_ticks.empty()) {
    for (double t : x_axis.ticks)
      out += "<text x=\"" + num(to_x(x_axis, t)) + "\" y=\"" + num(kTop + kPlotHeight + 16) +
             "\" text-anchor=\"middle\">" + tick_text(t) + "</text>\n";
  } else {
    double last_drawn = -1e9;
    for (const auto& [x, label] : plot.x_ticks) {
      const double px = to_x(x_axis, x);
      out += "<line x1=\"" + num(px) + "\" y1=\"" + num(kTop + kPlotHeight) + "\" x2=\"" + num(px) + "\" y2=\"" +
             num(kTop + kPlotHeight + 4) + "\" class=\"axis\"/>\n";
      if (px - last_drawn < 7.0 * static_cast<double>(label.size()) + 4) continue;  // would overlap the previous label
      out += "<text x=\"" + num(px) + "\" y=\"" + num(kTop + kPlotHeight + 16) + "\" text-anchor=\"middle\">" +
             html_escape(label) + "</text>\n";
      last_drawn = px;
    }
  }
  if (plot.diagonal)
    out += "<line x1=\"" + num(to_x(x_axis, 0)) + "\" y1=\"" + num(to_y(y, 0)) + "\" x2=\"" + num(to_x(x_axis, 1)) +
           "\" y2=\"" + num(to_y(y, 1)) + "\" class=\"reference\"/>\n";
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const auto& s = plot.series[i];
    const char* stroke = s.colour.empty() ? colour(i) : s.colour.c_str();
    out += "<g class=\"series\"><title>" + html_escape(s.name) + "</title>\n<polyline fill=\"none\" stroke=\"" + stroke +
           "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"";
    const std::size_t n = std::min(s.x.size(), s.y.size());
    for (std::size_t k = 0; k < n; ++k) out += (k ? " " : "") + num(to_x(x_axis, s.x[k])) + "," + num(to_y(y, s.y[k]));
    out += "\"/>\n";
    if (s.markers)
      for (std::size_t k = 0; k < n; ++k)
        out += "<circle cx=\"" + num(to_x(x_axis, s.x[k])) + "\" cy=\"" + num(to_y(y, s.y[k])) + "\" r=\"3\" fill=\"" +
               stroke + "\"><title>" + html_escape(s.name) + ": " + tick_text(s.x[k]) + ", " + tick_text(s.y[k]) +
               "</title></circle>\n";
    out += "</g>\n" + legend_entry(i, s.name, stroke, s.dashed, false);
  }
  return out + "</svg>\n";
}

std::string svg_bar_chart(const BarChart& chart) {
  std::vector<double> values;
  for (const auto& row : chart.values)
    for (const auto& v : row)
      if (v && std::isfinite(*v)) values.push_back(*v);
  const Axis y = value_axis(values, true);
  std::string out = open_svg(chart.title) + y_axis(y, chart.y_label);
  const double group_width = kPlotWidth / static_cast<double>(std::max<std::size_t>(1, chart.categories.size()));
  const double bar_width = group_width * 0.8 / static_cast<double>(std::max<std::size_t>(1, chart.series.size()));
  const double baseline = to_y(y, std::clamp(0.0, y.lo, y.hi));
  for (std::size_t c = 0; c < chart.categories.size(); ++c) {
    const double group_left = kLeft + group_width * static_cast<double>(c);
    const std::string& name = chart.categories[c];
    const std::size_t fits = static_cast<std::size_t>(std::max(3.0, group_width / 7.0));
    const std::string shown = name.size() > fits ? name.substr(0, fits - 1) + "\xE2\x80\xA6" : name;
    out += "<text x=\"" + num(group_left + group_width / 2) + "\" y=\"" + num(kTop + kPlotHeight + 16) +
           "\" text-anchor=\"middle\"><title>" + html_escape(name) + "</title>" + html_escape(shown) + "</text>\n";
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      if (c >= chart.values.size() || s >= chart.values[c].size()) continue;
      const auto& v = chart.values[c][s];
      if (!v || !std::isfinite(*v)) continue;
      const double top = to_y(y, std::clamp(*v, y.lo, y.hi));
      const double x = group_left + group_width * 0.1 + bar_width * static_cast<double>(s);
      out += "<rect x=\"" + num(x) + "\" y=\"" + num(std::min(top, baseline)) + "\" width=\"" + num(bar_width * 0.92) +
             "\" height=\"" + num(std::abs(baseline - top)) + "\" fill=\"" + colour(s) + "\"><title>" + html_escape(name) +
             ", " + html_escape(chart.series[s]) + ": " + tick_text(*v) + "</title></rect>\n";
    }
  }
  for (std::size_t s = 0; s < chart.series.size(); ++s) out += legend_entry(s, chart.series[s], colour(s), false, true);
  return out + "</svg>\n";
}

}  // namespace medadv::host
