#pragma once
// Runs the built medadv binary as a user would and captures its output and status.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

struct CommandResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
  std::string all() const { return out + err; }
};

// `args` is appended to the binary's path as a shell command line.
inline CommandResult run_medadv(const std::string& args, const std::string& env = "") {
  static int counter = 0;
  const std::string base = testing::TempDir() + "/medadv_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string command = env + " " MEDADV_BINARY " " + args + " >" + base + ".out 2>" + base + ".err";
  const int raw = std::system(command.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

inline std::string fixture(const std::string& subdir, const std::string& lib) {
  return std::string(MEDADV_FIXTURE_DIR) + "/" + subdir + "/" + lib;
}

// The raw text of a top-level scalar `key` in one results.jsonl line ("" when absent):
// enough for the flat trial records the tests read, without a JSON parser.
inline std::string field(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  auto at = line.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  return line.substr(at, line.find_first_of(",}", at) - at);
}
