// Every loop driven by data ends and every resource a key asks for is bounded (issue 24,
// class 4): chart axes over values the doubles hardly resolve, and `threads`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "host/edge_input_support.h"
#include "host/run_command.h"
#include "report/report.h"
#include "report/svg.h"

namespace fs = std::filesystem;

namespace {

// The y-axis tick labels of a chart (text right-aligned at the axis).
std::vector<std::string> y_tick_labels(const std::string& svg) {
  std::vector<std::string> labels;
  const std::regex tick(R"re(<text x="56.00" y="[^"]*" text-anchor="end">([^<]*)</text>)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it)
    labels.push_back((*it)[1]);
  return labels;
}

}  // namespace

TEST(ChartAxes, ValuesNearTheirResolutionEndTheTickLoop) {
  // 1e17 and the next double (16 apart): a step of 5 never moved a tick forward.
  medadv::host::LinePlot plot;
  plot.title = "near 1e17";
  plot.series.push_back({"s", {1, 2}, {1e17, 1e17 + 16}});
  const std::string line = medadv::host::svg_line_plot(plot);
  const auto ticks = y_tick_labels(line);
  EXPECT_GE(ticks.size(), 2u) << line;
  EXPECT_LE(ticks.size(), 20u) << line;
  for (const auto& t : ticks) EXPECT_TRUE(contains(t, "e+16") || contains(t, "e+17")) << t;

  medadv::host::BarChart bars;
  bars.title = "near 1e17";
  bars.categories = {"a", "b"};
  bars.series = {"robust_accuracy"};
  bars.values = {{1e17}, {1e17 + 16}};
  EXPECT_LE(y_tick_labels(medadv::host::svg_bar_chart(bars)).size(), 20u);

  // Non-finite and extreme values draw an axis, too.
  plot.series[0].y = {std::nan(""), 1e308, -1e308};
  EXPECT_TRUE(contains(medadv::host::svg_line_plot(plot), "</svg>"));
}

TEST(ChartAxes, ReportOfAMetricNear1e17Finishes) {
  // The issue's input: `medadv report` on results whose metric is near 1e17.
  const fs::path dir = fs::path(testing::TempDir()) / ("medadv_bounds_" + std::to_string(::getpid())) / "big" / "r1";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "results.jsonl")
      << R"({"trial":"baseline__PGD__1_255__adv_test","hash":"a1","kind":"attack","variant":"baseline","attack":"PGD","epsilon":0.0039,"epsilon_text":"1/255","split":"adv_test","robust_accuracy":1e17,"linf":1e17})"
         "\n"
      << R"({"trial":"baseline__PGD__2_255__adv_test","hash":"a2","kind":"attack","variant":"baseline","attack":"PGD","epsilon":0.0078,"epsilon_text":"2/255","split":"adv_test","robust_accuracy":1.0000000000000002e17,"linf":1.0000000000000002e17})"
         "\n";
  std::ofstream(dir / "resolved.json") << R"({"experiment":{"name":"big"}})";
  const auto report = run_medadv("report " + dir.string());
  EXPECT_EQ(report.status, 0) << report.all();
  EXPECT_TRUE(fs::exists(dir / "report.html"));
}

TEST(ExperimentBounds, ThreadsAreBounded) {
  // The issue's input: threads = 100000 validated, and setting up the pool never returned.
  const fs::path file = fs::path(testing::TempDir()) / ("medadv_threads_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(file) << "[experiment]\nthreads = 100000\n[dataset]\nplugin = \"phantom-fundus\"\n[model]\nplugin = "
                         "\"small-cnn\"\n";
  const auto r = run_medadv("validate " + file.string(), "MEDADV_PLUGIN_PATH=");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, file.string() + ":2:")) << r.err;
  EXPECT_TRUE(contains(r.err, "experiment.threads")) << r.err;
  EXPECT_TRUE(contains(r.err, "<= 1024")) << r.err;
}
