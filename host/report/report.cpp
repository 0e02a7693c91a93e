#include "report/report.h"

#include "medadv/atomic_file.h"
#include "medadv/error.h"
#include "report/csv.h"
#include "report/html.h"
#include "report/run_data.h"
#include "report/tables.h"

namespace medadv::host {

ReportFiles write_report(const std::filesystem::path& run_dir) {
  const RunData run = read_run(run_dir);
  std::vector<TableSpec> specs;
  if (const Value* report = run.resolved.find("report")) {
    try {
      specs = table_specs(*report);
    } catch (const InvalidInput& e) {
      throw InvalidInput((run_dir / "resolved.json").string() + ": " + e.what());
    }
  }
  if (specs.empty()) specs = default_table_specs(run.trials);
  ReportFiles files;
  files.tables_md = render_markdown(run.experiment_name + " \xE2\x80\x94 run " + run.run_id, specs, run.trials);
  write_file_atomically(run_dir / "tables.md", files.tables_md);
  write_file_atomically(run_dir / "results.csv", results_csv(run.trials));
  write_file_atomically(run_dir / "report.html", render_html(run, specs));
  return files;
}

}  // namespace medadv::host
