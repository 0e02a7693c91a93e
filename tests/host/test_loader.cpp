// The loader: every bad library is refused with its own clear message and exit status
// 2, never a crash; good libraries load, shadow, and are checked.
#include <gtest/gtest.h>

#include <cstdlib>

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "common/sha256.h"
#include "host/run_command.h"
#include "loader/elf_symbols.h"
#include "loader/guard.h"
#include "loader/plugin_library.h"
#include "loader/registry.h"
#include "medadv/attack.h"
#include "medadv/defense.h"
#include "medadv/detector.h"
#include "medadv/testing.h"

using namespace medadv::host;

namespace {

std::string open_error(const std::string& path) {
  try {
    PluginLibrary::open(path);
  } catch (const LibraryError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " was accepted";
  return "";
}

std::string not_elf_file() {
  const std::string path = testing::TempDir() + "/not_elf/libnot_elf.so";
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "this is a text file pretending to be a library\n";
  return path;
}


}  // namespace

TEST(Loader, GoodLibraryLoadsWithItsDescriptor) {
  auto lib = PluginLibrary::open(fixture("good", "libfixture_good.so"));
  const auto plugins = lib->plugins();
  ASSERT_EQ(plugins.size(), 1u);
  const auto& p = plugins.front();
  EXPECT_EQ(p.name(), "fixture-noise");
  EXPECT_EQ(p.kind(), medadv::Kind::Attack);
  EXPECT_EQ(p.threat_model(), medadv::ThreatModel::WhiteBox);
  EXPECT_EQ(lib->sha256(), sha256_file(fixture("good", "libfixture_good.so")));
  EXPECT_NE(p.schema().find("epsilon"), nullptr);
}

TEST(Loader, PluginsExportOnlyTheEntrySymbol) {
  const auto symbols = exported_dynamic_symbols(fixture("good", "libfixture_good.so"));
  EXPECT_EQ(symbols, std::vector<std::string>{"medadv_plugin_v1"});
}

TEST(Loader, ElfTablesReachingPastTheFileAreRefused) {
  // A copy of a good library whose .dynsym string table claims 2^62 bytes (what a damaged
  // file can say): refused as truncated, before anything that size is allocated.
  std::ifstream in(fixture("good", "libfixture_good.so"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Elf64_Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  const auto section_at = [&](std::size_t i) { return header.e_shoff + i * sizeof(Elf64_Shdr); };
  bool patched = false;
  for (std::size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr section;
    std::memcpy(&section, bytes.data() + section_at(i), sizeof section);
    if (section.sh_type != SHT_DYNSYM) continue;
    Elf64_Shdr strings;
    std::memcpy(&strings, bytes.data() + section_at(section.sh_link), sizeof strings);
    strings.sh_size = std::uint64_t{1} << 62;
    std::memcpy(bytes.data() + section_at(section.sh_link), &strings, sizeof strings);
    patched = true;
  }
  ASSERT_TRUE(patched) << "the fixture has no .dynsym";
  const std::string path = testing::TempDir() + "/huge_strtab/libhuge_strtab.so";
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    exported_dynamic_symbols(path);
    ADD_FAILURE() << "the damaged library was read";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "dynamic string table")) << e.what();
  }
}

TEST(Loader, NotElfIsRefused) {
  const auto m = open_error(not_elf_file());
  EXPECT_TRUE(contains(m, "libnot_elf.so: not a shared library")) << m;
  const auto r = run_medadv("plugins check " + not_elf_file());
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "not a shared library")) << r.err;
}

TEST(Loader, SharedObjectWithoutEntrySymbolIsRefused) {
  const auto path = fixture("no_entry", "libfixture_no_entry.so");
  const auto m = open_error(path);
  EXPECT_TRUE(contains(m, "not a medadv plugin")) << m;
  EXPECT_TRUE(contains(m, "medadv_plugin_v1")) << m;
  const auto r = run_medadv("plugins check " + path);
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "exports no medadv_plugin_v1")) << r.err;
  // Inside a plugin directory the same library is skipped with a warning only.
  PluginRegistry registry;
  registry.discover({{std::string(MEDADV_FIXTURE_DIR) + "/no_entry", "test", true}});
  EXPECT_TRUE(registry.problems().empty());
  ASSERT_EQ(registry.warnings().size(), 1u);
  EXPECT_TRUE(contains(registry.warnings().front(), "skipped"));
}

TEST(Loader, OtherAbiGenerationIsRecognisedBySymbol) {
  const auto m = open_error(fixture("abi_v2", "libfixture_abi_v2.so"));
  EXPECT_TRUE(contains(m, "built for medadv plugin ABI 2 (exports medadv_plugin_v2)")) << m;
  EXPECT_TRUE(contains(m, "loads ABI 1")) << m;
  EXPECT_TRUE(contains(m, "rebuild it")) << m;
  const auto r = run_medadv("plugins list --plugin-path " + fixture("abi_v2", ""));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "ABI 2")) << r.err;
}

TEST(Loader, OtherLibTorchVersionIsRefusedBeforeAnyCall) {
  // The fixture's functions abort: reaching them would kill this test.
  const auto m = open_error(fixture("wrong_torch", "libfixture_wrong_torch.so"));
  EXPECT_TRUE(contains(m, "compiled against LibTorch 9.1")) << m;
  EXPECT_TRUE(contains(m, "this medadv uses LibTorch " + std::to_string(host_abi().torch_major) + "." +
                              std::to_string(host_abi().torch_minor)))
      << m;
  const auto r = run_medadv("plugins check " + fixture("wrong_torch", "libfixture_wrong_torch.so"));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "LibTorch 9.1")) << r.err;
}

TEST(Loader, EarlierSdkMinorIsRefusedBeforeAnyCall) {
  // Before 1.0 an SDK minor may change the C++ types behind create(): the fixture's
  // functions abort, so reaching them would kill this test.
  const auto m = open_error(fixture("old_sdk", "libfixture_old_sdk.so"));
  EXPECT_TRUE(contains(m, "built against medadv SDK 0.1.0, but this medadv is SDK " + host_abi().sdk_version)) << m;
  EXPECT_TRUE(contains(m, "rebuild it")) << m;
  const auto r = run_medadv("plugins check " + fixture("old_sdk", "libfixture_old_sdk.so"));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "SDK 0.1.0")) << r.err;
}

TEST(Loader, NewerMinorLibraryIsSteppedByItsOwnEntrySize) {
  // Every entry is one pointer longer than this host's medadv_plugin_info: stepping by the
  // host's size would read the second entry from the middle of the first.
  const auto path = fixture("abi_next_minor", "libfixture_abi_next_minor.so");
  auto lib = PluginLibrary::open(path);
  EXPECT_EQ(lib->descriptor().abi_minor, host_abi().abi_minor + 1);
  const auto plugins = lib->plugins();
  ASSERT_EQ(plugins.size(), 3u);
  EXPECT_EQ(plugins[0].name(), "fixture-next-noise");
  EXPECT_EQ(plugins[0].kind(), medadv::Kind::Attack);
  EXPECT_EQ(plugins[1].name(), "fixture-next-quantize");
  EXPECT_EQ(plugins[1].kind(), medadv::Kind::Preprocessor);
  EXPECT_EQ(plugins[2].name(), "fixture-next-hf");
  EXPECT_EQ(plugins[2].kind(), medadv::Kind::Detector);

  auto ctx = std::make_shared<medadv::testing::TestContext>();
  auto quantize = plugins[1].create<medadv::Preprocessor>(plugins[1].schema().defaults(plugins[1].name()), ctx);
  const auto x = torch::tensor({0.0F, 0.26F, 0.45F, 1.0F}).reshape({1, 1, 2, 2});
  // 16 levels: multiples of 1/15, the closest to each pixel.
  EXPECT_TRUE(torch::allclose(quantize->transform(x), torch::tensor({0.0F, 4 / 15.0F, 7 / 15.0F, 1.0F}).reshape({1, 1, 2, 2})));
  EXPECT_NE(plugins[0].create<medadv::Attack>(plugins[0].schema().defaults(plugins[0].name()), ctx), nullptr);
  EXPECT_NE(plugins[2].create<medadv::Detector>(plugins[2].schema().defaults(plugins[2].name()), ctx), nullptr);

  const auto listed = run_medadv("plugins list --plugin-path " + fixture("abi_next_minor", ""));
  EXPECT_EQ(listed.status, 0) << listed.all();
  for (const char* name : {"fixture-next-noise", "fixture-next-quantize", "fixture-next-hf"})
    EXPECT_TRUE(contains(listed.out, name)) << listed.out;
  const auto checked = run_medadv("plugins check " + path);
  EXPECT_EQ(checked.status, 0) << checked.all();
}

TEST(Loader, EntriesShorterThanTheFirstLayoutAreRefused) {
  // The fixture's functions abort: reaching them would kill this test.
  const auto path = fixture("abi_short_info", "libfixture_abi_short_info.so");
  const auto m = open_error(path);
  EXPECT_TRUE(contains(m, "libfixture_abi_short_info.so: plugin #0 has a descriptor of")) << m;
  EXPECT_TRUE(contains(m, "(the ABI 1.0 layout)")) << m;
  const auto r = run_medadv("plugins check " + path);
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "libfixture_abi_short_info.so")) << r.err;
  EXPECT_TRUE(contains(r.err, "the ABI 1.0 layout")) << r.err;
}

TEST(Loader, ThrowingCreateIsGuarded) {
  auto lib = PluginLibrary::open(fixture("throws", "libfixture_throws.so"));
  const auto plugins = lib->plugins();
  const auto& p = plugins.front();
  auto ctx = std::make_shared<medadv::testing::TestContext>();
  try {
    p.create<medadv::Attack>(p.schema().defaults(p.name()), ctx);
    FAIL() << "create() did not throw";
  } catch (const PluginFailure& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, "attack 'fixture-throws' (libfixture_throws.so) failed in create()")) << m;
    EXPECT_TRUE(contains(m, "the widget could not be allocated")) << m;
  }
  const auto r = run_medadv("plugins check " + fixture("throws", "libfixture_throws.so"));
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "failed in create(): fixture: the widget could not be allocated")) << r.err;
}

TEST(Loader, CrashingPluginIsReportedNotSuffered) {
  // Under AddressSanitizer (the asan preset) the checking process must die of the signal,
  // as elsewhere, instead of ASan reporting the SEGV and exiting 1.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string env = "ASAN_OPTIONS='" + std::string(asan ? asan : "") + ":handle_segv=0'";
  const auto r = run_medadv("plugins check " + fixture("crash", "libfixture_crash.so"), env);
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "crashed the checking process with signal 11")) << r.err;
}

TEST(Loader, SameNameTwiceShadowsWithAWarning) {
  PluginRegistry registry;
  registry.discover({{std::string(MEDADV_FIXTURE_DIR) + "/good", "test", true},
                     {std::string(MEDADV_FIXTURE_DIR) + "/shadow", "test", true}});
  EXPECT_TRUE(registry.problems().empty());
  ASSERT_EQ(registry.warnings().size(), 1u);
  EXPECT_TRUE(contains(registry.warnings().front(), "attack plugin 'fixture-noise'")) << registry.warnings().front();
  EXPECT_TRUE(contains(registry.warnings().front(), "libfixture_shadow.so is shadowed by the one in"));
  const auto* winner = registry.find(medadv::Kind::Attack, "fixture-noise");
  ASSERT_NE(winner, nullptr);
  EXPECT_EQ(winner->library().path().filename(), "libfixture_good.so");

  const auto r = run_medadv("plugins list --plugin-path " + fixture("good", "") + " --plugin-path " +
                            fixture("shadow", ""));
  EXPECT_EQ(r.status, 0) << r.all();
  EXPECT_TRUE(contains(r.err, "shadowed")) << r.err;
}

TEST(Loader, MissingPluginPathIsAnError) {
  EXPECT_THROW(build_search_path({{"/nonexistent/plugins"}, {}, false}), medadv::InvalidInput);
  const auto r = run_medadv("plugins list --plugin-path /nonexistent/plugins");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "plugin path '/nonexistent/plugins' (from --plugin-path) does not exist")) << r.err;
  const auto env = run_medadv("plugins list", "MEDADV_PLUGIN_PATH=/nonexistent/env");
  EXPECT_EQ(env.status, 2) << env.all();
  EXPECT_TRUE(contains(env.err, "(from MEDADV_PLUGIN_PATH)")) << env.err;
}

TEST(Loader, UnknownPluginNamesGetSuggestions) {
  PluginRegistry registry;
  registry.discover({{std::string(MEDADV_FIXTURE_DIR) + "/good", "test", true}});
  try {
    registry.require(medadv::Kind::Attack, "fixture-nois");
    FAIL();
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "did you mean 'fixture-noise'?")) << e.what();
    EXPECT_TRUE(contains(e.what(), "attack plugins: ")) << e.what();
  }
}

TEST(Loader, CheckPassesAGoodLibrary) {
  const auto r = run_medadv("plugins check " + fixture("good", "libfixture_good.so"));
  EXPECT_EQ(r.status, 0) << r.all();
  EXPECT_TRUE(contains(r.out, "ok    attack 'fixture-noise'")) << r.out;
  EXPECT_TRUE(contains(r.out, "smoke run: white-box attack")) << r.out;
  EXPECT_TRUE(contains(r.out, "passed")) << r.out;
}
