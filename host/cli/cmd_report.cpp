// `medadv report RUN_DIR`: regenerates a run's tables.md, results.csv and report.html
// from its files (no plugin is loaded).
#include <iostream>

#include "cli/command.h"
#include "report/report.h"

namespace medadv::host {

namespace {

void declare_report_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("run-dir", po::value<std::string>()->required(), "the run directory (runs/<name>/<id>)")(
      "print", "also print tables.md");
  p.add("run-dir", 1);
}

int execute_report(const po::variables_map& vm, const GlobalOptions&) {
  const std::filesystem::path dir = vm["run-dir"].as<std::string>();
  const ReportFiles files = write_report(dir);
  if (vm.count("print")) std::cout << files.tables_md;
  std::cout << "wrote " << (dir / "tables.md").string() << ", " << (dir / "results.csv").string() << ", "
            << (dir / "report.html").string() << "\n";
  return kExitOk;
}

}  // namespace

Command report_command() { return {"report", declare_report_options, execute_report}; }

}  // namespace medadv::host
