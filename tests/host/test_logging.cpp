// The host logger's own behaviour: message formatting, files that get every line while
// their handle lives, and a file that cannot be opened.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/test_support.h"
#include "common/logging.h"

namespace fs = std::filesystem;
using medadv::host::format_message;
using medadv::host::HostLog;
using medadv::host::LogFileError;
using medadv::host::LogSettings;

TEST(HostLog, FormatMessageFillsEachPlaceholderInTurn) {
  EXPECT_EQ(format_message("run {}: {} trials on {}", "runs/a", 12, "cuda:0"), "run runs/a: 12 trials on cuda:0");
  EXPECT_EQ(format_message("{}{}", 'a', std::string("b")), "ab");
  EXPECT_EQ(format_message("{} of {}", 3), "3 of {}");  // a missing argument leaves its placeholder
  EXPECT_EQ(format_message("no placeholder", 7), "no placeholder");
  EXPECT_EQ(format_message("{}%", 2.5), "2.5%");
}

TEST(HostLog, TeeFileGetsEveryLineWhileItsHandleLives) {
  const auto dir = scratch_dir("tee");
  HostLog log(LogSettings{-1, ""});  // quiet: the terminal gets errors only
  log.info("before");
  {
    const auto tee = log.tee_to(dir / "log.txt");
    log.debug("debug {}", 1);
    log.info("info {}", 2);
    log.warn("warn");
  }
  log.info("after");
  const std::string text = slurp((dir / "log.txt").string());
  EXPECT_NE(text.find("debug debug 1"), std::string::npos) << text;
  EXPECT_NE(text.find("info info 2"), std::string::npos) << text;
  EXPECT_NE(text.find("warning warn"), std::string::npos) << text;
  EXPECT_EQ(text.find("before"), std::string::npos) << text;
  EXPECT_EQ(text.find("after"), std::string::npos) << text;
}

TEST(HostLog, AFileThatCannotBeOpenedIsALogFileError) {
  // spdlog creates missing folders, so the file's "folder" is a regular file.
  const auto dir = scratch_dir("unopenable");
  std::ofstream(dir / "plain").put('x');
  const auto file = dir / "plain" / "log.txt";
  EXPECT_THROW(HostLog(LogSettings{0, file.string()}), LogFileError);
  HostLog log(LogSettings{-1, ""});
  EXPECT_THROW((void)log.tee_to(file), LogFileError);
}
