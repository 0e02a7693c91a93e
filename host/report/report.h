#pragma once
// The run report: reads a run directory's files (results.jsonl, resolved.json,
// manifest.json, images/) and writes tables.md, results.csv and report.html into it.
#include <filesystem>
#include <string>

namespace medadv::host {

struct ReportFiles {
  std::string tables_md;  // what tables.md now holds (the engine prints it after a run)
};

// Tables come from the resolved experiment's [report] table/tables, else the defaults
// (report/tables.h). Each file is written by write_file_atomically (medadv/atomic_file.h),
// so a reader never sees half a report. Throws InvalidInput for a missing or malformed input file
// (naming it, with the line for results.jsonl) and Error when a file cannot be written.
ReportFiles write_report(const std::filesystem::path& run_dir);

}  // namespace medadv::host
