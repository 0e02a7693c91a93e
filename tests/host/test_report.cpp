// The run report from a run directory written by hand: tables.md against hand values,
// results.csv parsed back, report.html self-contained and well formed, and the
// `medadv report` command's exit statuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "host/run_command.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "report/embed.h"
#include "report/report.h"

namespace fs = std::filesystem;

namespace {


std::vector<std::string> trial_lines() {
  return {
      R"({"trial":"baseline__clean__adv_test","hash":"c1","kind":"clean","variant":"baseline","split":"adv_test","clean_accuracy":0.93,"n":120})",
      R"({"trial":"baseline__PGD__8_255__adv_test","hash":"a1","kind":"attack","variant":"baseline","attack":"PGD","attack_plugin":"pgd","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","targeted":false,"n":120,"clean_accuracy":0.93,"robust_accuracy":0.05,"attack_success_rate":0.95,"linf":0.0313,"psnr":null,"files":{"npz":"adversarial/a.npz","grid":"images/baseline__PGD__8_255__adv_test.png"},"examples":{"columns":2,"rows":["clean","perturbation x10","adversarial"],"labels":[1,0],"pred_clean":[1,0],"pred_adversarial":[0,0],"class_names":["no DR","DR"]}})",
      R"({"trial":"baseline__PGD__1_255__adv_test","hash":"a2","kind":"attack","variant":"baseline","attack":"PGD","attack_plugin":"pgd","epsilon":0.00392157,"epsilon_text":"1/255","split":"adv_test","targeted":false,"n":120,"clean_accuracy":0.93,"robust_accuracy":0.5})",
      R"({"trial":"baseline__FGSM__8_255__adv_test","hash":"a3","kind":"attack","variant":"baseline","attack":"FGSM \"fast\", <x>","attack_plugin":"fgsm","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","targeted":false,"n":120,"clean_accuracy":0.93,"robust_accuracy":0.2,"attack_success_rate":0.8})",
      R"({"trial":"baseline__PGD__8_255__adv_train","hash":"a4","kind":"attack","variant":"baseline","attack":"PGD","attack_plugin":"pgd","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_train","targeted":false,"n":300,"clean_accuracy":0.9,"robust_accuracy":0.99})",
      "",
      R"({"trial":"jpeg__PGD__8_255__adv_test","hash":"a5","kind":"attack","variant":"jpeg","attack":"PGD","attack_plugin":"pgd","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","targeted":false,"n":120,"clean_accuracy":0.9,"robust_accuracy":0.4,"attack_success_rate":0.55})",
      R"({"trial":"baseline__PGD__8_255__kd","hash":"d1","kind":"detector","variant":"baseline","attack":"PGD","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","detector":"kd","detector_plugin":"kd","auc":0.97,"tpr@90":0.93,"detection_accuracy":0.91,"attack_success_rate":0.95,"roc":{"fpr":[0,0.1,1],"tpr":[0,0.93,1]}})",
      R"({"trial":"baseline__PGD__8_255__lid","hash":"d2","kind":"detector","variant":"baseline","attack":"PGD","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","detector":"lid","detector_plugin":"lid","auc":0.8125,"tpr@90":null,"roc":{"fpr":[0,0.5,1],"tpr":[0,0.7,1]}})",
  };
}

const char* kResolved =
    R"({"experiment":{"name":"hfc-fundus","seed":0},"report":{"tables":[)"
    R"({"rows":"attack","cols":"epsilon","metrics":["robust_accuracy","attack_success_rate"]},)"
    R"({"rows":"detector","cols":"attack","metrics":["auc","tpr@90"]}]}})";

const char* kManifest =
    R"({"experiment":"hfc-fundus","medadv_version":"0.1.0","device":"cpu","seed":0,)"
    R"("plugins":[{"name":"pgd","kind":"attack","version":"1.0.0","library":"/opt/lib/libgradient.so",)"
    R"("sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]})";

// A run directory: runs/hfc-fundus/<id>/ with results, resolved experiment, manifest, grid.
fs::path make_run(const std::string& id, const std::string& resolved = kResolved) {
  const fs::path dir = fs::path(testing::TempDir()) / ("medadv_report_" + std::to_string(::getpid())) / "hfc-fundus" / id;
  fs::remove_all(dir);
  fs::create_directories(dir / "images");
  std::string results;
  for (const auto& line : trial_lines()) results += line + "\n";
  write_text(dir / "results.jsonl", results);
  write_text(dir / "resolved.json", resolved);
  write_text(dir / "manifest.json", kManifest);
  // 2 columns x 3 rows of 8 x 8 tiles.
  medadv::write_png(dir / "images" / "baseline__PGD__8_255__adv_test.png",
                    torch::linspace(0, 1, 3 * 24 * 16).view({3, 24, 16}));
  return dir;
}

std::string read(const fs::path& file) { return slurp(file.string()); }

// RFC 4180 records (CRLF or LF line ends; quoted fields may hold commas, quotes, line breaks).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') records.back().back() += '"', ++i;
      else if (c == '"') quoted = false;
      else records.back().back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
    } else if (c == '\n') {
      records.emplace_back(1);
    } else {
      records.back().back() += c;
    }
  }
  if (records.back().size() == 1 && records.back()[0].empty()) records.pop_back();
  return records;
}

// Every <svg>, <table>, <section>, <details>, <figure>, <div> opened is closed, in order.
std::string tag_balance_problem(const std::string& html) {
  static const std::regex tag(R"(<(/?)(svg|table|section|details|figure|div|html|body|head|g)[\s>])");
  std::vector<std::string> open;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[2];
    if ((*it)[1].length() == 0) {
      open.push_back(name);
    } else if (open.empty() || open.back() != name) {
      return "</" + name + "> at offset " + std::to_string(it->position()) + " closes " +
             (open.empty() ? std::string("nothing") : "<" + open.back() + ">");
    } else {
      open.pop_back();
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> never closed";
}

std::vector<std::uint8_t> base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace

TEST(Report, TablesFollowTheReportSectionWithHandValues) {
  const fs::path dir = make_run("tables");
  const auto files = medadv::host::write_report(dir);
  const std::string md = read(dir / "tables.md");
  EXPECT_EQ(md, files.tables_md);
  EXPECT_TRUE(contains(md, "# hfc-fundus \xE2\x80\x94 run tables\n")) << md;
  EXPECT_TRUE(contains(md, "## robust_accuracy / attack_success_rate (adv_test)\n")) << md;
  // Epsilons ordered by value (1/255 was written after 8/255), one table per variant.
  EXPECT_TRUE(contains(md, "### variant baseline\n\n"
                           "| attack \\ epsilon | 1/255 | 8/255 |\n"
                           "|---|---:|---:|\n"
                           "| PGD | 0.500 / - | 0.050 / 0.950 |\n"
                           "| FGSM \"fast\", <x> | - | 0.200 / 0.800 |\n"))
      << md;
  EXPECT_TRUE(contains(md, "### variant jpeg\n\n"
                           "| attack \\ epsilon | 8/255 |\n"
                           "|---|---:|\n"
                           "| PGD | 0.400 / 0.550 |\n"))
      << md;
  // The detector table: one epsilon and one variant, so no sub-heading; null shows "-".
  EXPECT_TRUE(contains(md, "## auc / tpr@90 (adv_test)\n\n"
                           "| detector \\ attack | PGD |\n"
                           "|---|---:|\n"
                           "| kd | 0.970 / 0.930 |\n"
                           "| lid | 0.812 / - |\n"))
      << md;
  EXPECT_FALSE(contains(md, "0.990")) << "the adv_train trial is not in adv_test tables";
}

TEST(Report, DefaultTablesWithoutAReportSection) {
  const fs::path dir = make_run("defaults", R"({"experiment":{"name":"hfc-fundus"}})");
  const std::string md = medadv::host::write_report(dir).tables_md;
  EXPECT_TRUE(contains(md, "## clean_accuracy (clean trials, adv_test)\n\n"
                           "| variant \\ split | adv_test |\n|---|---:|\n| baseline | 0.930 |\n"))
      << md;
  EXPECT_TRUE(contains(md, "## robust_accuracy (attack trials, adv_test)\n\n### variant baseline\n\n"
                           "| attack \\ epsilon | 1/255 | 8/255 |\n|---|---:|---:|\n| PGD | 0.500 | 0.050 |\n"))
      << md;
  EXPECT_TRUE(contains(md, "## auc / tpr@90 (detector trials, adv_test)\n")) << md;
}

// An adaptive attack's detector trial whose detectors were fitted on PGD
// (detectors_fit_on) is shown beside PGD's own: AUC and TPR "without / with".
TEST(Report, AdaptiveDetectionsSitBesideTheAttackTheirDetectorsWereFittedOn) {
  const fs::path dir = make_run("adaptive", R"({"experiment":{"name":"hfc-fundus"}})");
  std::string results = slurp((dir / "results.jsonl").string());
  results +=
      R"({"trial":"baseline__PGD_+_HFC__8_255__kd","hash":"d3","kind":"detector","variant":"baseline","attack":"PGD + HFC","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","detector":"kd","detector_plugin":"kd","detectors_fit_on":"PGD","auc":0.12,"tpr@90":0.05})"
      "\n";
  write_text(dir / "results.jsonl", results);
  const std::string md = medadv::host::write_report(dir).tables_md;
  EXPECT_TRUE(contains(md, "AUC without / with the adaptive attack")) << md;
  EXPECT_TRUE(contains(md, "| detector \\ attack | PGD + HFC |\n|---|---:|\n| kd | 0.970 / 0.120 |\n")) << md;
  EXPECT_TRUE(contains(md, "| kd | 0.930 / 0.050 |\n")) << md;

  // A resumed or interrupted run may not have the fitting attack's line yet: nothing
  // throws; the default tables leave the pairing out, and a table that asks for it shows
  // the "without" half empty beside the "with" half.
  const std::string adaptive_only =
      R"({"trial":"baseline__PGD_+_HFC__8_255__kd","hash":"d3","kind":"detector","variant":"baseline","attack":"PGD + HFC","epsilon":0.0313725,"epsilon_text":"8/255","split":"adv_test","detector":"kd","detector_plugin":"kd","detectors_fit_on":"PGD","auc":0.12,"tpr@90":0.05})"
      "\n";
  const fs::path early = make_run("adaptive-early", R"({"experiment":{"name":"hfc-fundus"}})");
  write_text(early / "results.jsonl", adaptive_only);
  const std::string partial = medadv::host::write_report(early).tables_md;
  EXPECT_TRUE(contains(partial, "| kd | 0.120 / 0.050 |\n")) << partial;
  EXPECT_FALSE(contains(partial, "without")) << partial;
  const fs::path asked = make_run(
      "adaptive-asked",
      R"({"experiment":{"name":"hfc-fundus"},"report":{"tables":[{"rows":"detector","cols":"attack","metrics":["auc_without","auc_with"]}]}})");
  write_text(asked / "results.jsonl", adaptive_only);
  const std::string half = medadv::host::write_report(asked).tables_md;
  EXPECT_TRUE(contains(half, "| kd | - / 0.120 |\n")) << half;
}

TEST(Report, BadReportSectionNamesTheKey) {
  const fs::path dir =
      make_run("badspec", R"({"report":{"tables":[{"rows":"attack","cols":"epsilon","metrics":["auc"]},{"rows":"attack","colums":"x","metrics":"auc"}]}})");
  try {
    medadv::host::write_report(dir);
    FAIL() << "expected InvalidInput";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "resolved.json: report.tables[1]: unknown key 'colums'")) << e.what();
  }
}

TEST(Report, CsvParsesBackWithOneRowPerTrial) {
  const fs::path dir = make_run("csv");
  medadv::host::write_report(dir);
  const std::string csv = read(dir / "results.csv");
  EXPECT_TRUE(contains(csv, "\r\n"));
  const auto records = parse_csv(csv);
  ASSERT_EQ(records.size(), 1 + 8u) << csv;  // header + 8 trials (the blank line is no trial)
  for (const auto& r : records) EXPECT_EQ(r.size(), records[0].size());
  const auto& header = records[0];
  EXPECT_EQ(std::vector<std::string>(header.begin(), header.begin() + 4),
            (std::vector<std::string>{"trial", "hash", "kind", "variant"}));
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  EXPECT_FALSE(column.count("files")) << "objects are not columns";
  EXPECT_FALSE(column.count("roc"));
  ASSERT_TRUE(column.count("tpr@90"));
  // Metrics after the identity fields, sorted.
  EXPECT_LT(column["attack_success_rate"], column["auc"]);
  EXPECT_LT(column["n"], column["attack_success_rate"]);
  EXPECT_EQ(records[4][column["attack"]], "FGSM \"fast\", <x>");
  EXPECT_EQ(records[4][column["robust_accuracy"]], "0.2");
  EXPECT_EQ(records[2][column["psnr"]], "") << "null is an empty field";
  EXPECT_EQ(records[8][column["tpr@90"]], "");
  EXPECT_EQ(records[7][column["tpr@90"]], "0.93");
  EXPECT_TRUE(contains(csv, "\"FGSM \"\"fast\"\", <x>\""));
}

TEST(Report, HtmlIsSelfContainedAndWellFormed) {
  const fs::path dir = make_run("html");
  medadv::host::write_report(dir);
  const std::string html = read(dir / "report.html");
  for (const auto& line : trial_lines()) {
    if (line.empty()) continue;
    const std::string name = line.substr(10, line.find('"', 10) - 10);
    EXPECT_TRUE(contains(html, name)) << name;
  }
  for (const char* external : {"http://", "https://", "src=\"http", "<script", "<link", "@import", "url("})
    EXPECT_FALSE(contains(html, external)) << external;
  EXPECT_EQ(tag_balance_problem(html), "");
  // Escaped text, never raw markup from the results.
  EXPECT_TRUE(contains(html, "FGSM &quot;fast&quot;, &lt;x&gt;"));
  EXPECT_FALSE(contains(html, "<x>"));
  // The grid embedded byte for byte.
  const std::string prefix = "src=\"data:image/png;base64,";
  const auto at = html.find(prefix);
  ASSERT_NE(at, std::string::npos);
  const auto begin = at + prefix.size();
  const std::string encoded = html.substr(begin, html.find('"', begin) - begin);
  const std::string png = read(dir / "images" / "baseline__PGD__8_255__adv_test.png");
  EXPECT_EQ(base64_decode(encoded), std::vector<std::uint8_t>(png.begin(), png.end()));
  // Captions: true label and predictions by class name; the wrong adversarial one marked.
  EXPECT_TRUE(contains(html, "true: DR<br>clean: <span>DR</span><br>adv: <span class=\"wrong\">no DR \xE2\x9C\x97</span>"))
      << html.substr(html.find("captions"), 600);
  // Manifest summary with a sha256 prefix, plots, and the collapsible full table.
  EXPECT_TRUE(contains(html, ">0123456789ab</code>"));
  EXPECT_TRUE(contains(html, "<td>0.1.0</td>"));
  EXPECT_TRUE(contains(html, "<section id=\"accuracy-vs-epsilon\">"));
  EXPECT_TRUE(contains(html, "ROC: PGD at 8/255"));
  EXPECT_TRUE(contains(html, "kd (AUC 0.970)"));
  EXPECT_TRUE(contains(html, "<details>"));
  EXPECT_TRUE(contains(html, "<title>medadv: hfc-fundus \xE2\x80\x94 run html</title>"));
  // Nothing left behind by the write-then-rename.
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST(Report, RunFilesAreValidated) {
  const fs::path dir = make_run("validated", "{}");
  fs::remove(dir / "results.jsonl");
  EXPECT_THROW(medadv::host::write_report(dir), medadv::InvalidInput);
  // A last line cut short by a crash (no newline) is skipped, as the engine does.
  write_text(dir / "results.jsonl", trial_lines()[0] + "\n" + trial_lines()[1].substr(0, 40));
  EXPECT_TRUE(contains(medadv::host::write_report(dir).tables_md, "| baseline | 0.930 |"));
  write_text(dir / "results.jsonl", trial_lines()[0] + "\n{\"trial\":\"x\"}\n");
  try {
    medadv::host::write_report(dir);
    FAIL() << "expected InvalidInput";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "results.jsonl:2: the trial has no string 'kind'")) << e.what();
  }
}

TEST(Report, Base64MatchesRfc4648Vectors) {
  const std::map<std::string, std::string> vectors = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                      {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors)
    EXPECT_EQ(medadv::host::base64_encode(std::vector<std::uint8_t>(plain.begin(), plain.end())), encoded) << plain;
  EXPECT_EQ(medadv::host::html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

TEST(Report, CommandWritesTheFilesAndRejectsBadRuns) {
  const fs::path dir = make_run("cli");
  const auto ok = run_medadv("report " + dir.string());
  EXPECT_EQ(ok.status, 0) << ok.all();
  for (const char* file : {"tables.md", "results.csv", "report.html"}) EXPECT_TRUE(fs::exists(dir / file)) << file;
  EXPECT_EQ(run_medadv("report --help").status, 0);

  const fs::path empty = dir.parent_path() / "empty";
  fs::create_directories(empty);
  const auto missing = run_medadv("report " + empty.string());
  EXPECT_EQ(missing.status, 2) << missing.all();
  EXPECT_TRUE(contains(missing.err, empty.string())) << missing.err;
  EXPECT_TRUE(contains(missing.err, "results.jsonl")) << missing.err;

  write_text(dir / "results.jsonl", trial_lines()[0] + "\n{\"trial\": oops}\n" + trial_lines()[2] + "\n");
  const auto bad = run_medadv("report " + dir.string());
  EXPECT_EQ(bad.status, 2) << bad.all();
  EXPECT_TRUE(contains(bad.err, "results.jsonl:2:11: invalid JSON")) << bad.err;
}
