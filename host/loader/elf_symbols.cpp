#include "loader/elf_symbols.h"

#include <elf.h>

#include <cstring>
#include <fstream>

#include "medadv/error.h"

namespace medadv::host {

namespace {

template <class T>
T read_at(std::ifstream& in, std::uint64_t offset, const std::filesystem::path& file) {
  T value{};
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(&value), sizeof(T));
  if (!in) throw InvalidInput(file.string() + ": truncated ELF file");
  return value;
}

// Every table the header points to must lie inside the file: sizes come from the file,
// and a corrupt one would otherwise ask for gigabytes before the read fails.
void require_inside(std::uint64_t offset, std::uint64_t size, std::uint64_t file_size, const char* what,
                    const std::filesystem::path& file) {
  if (offset > file_size || size > file_size - offset)
    throw InvalidInput(file.string() + ": malformed ELF file: its " + what + " (" + std::to_string(size) +
                       " bytes at offset " + std::to_string(offset) + ") lies beyond the end of the file (" +
                       std::to_string(file_size) + " bytes)");
}

}  // namespace

std::vector<std::string> exported_dynamic_symbols(const std::filesystem::path& file) {
  std::error_code error;
  const std::uint64_t file_size = std::filesystem::file_size(file, error);
  std::ifstream in(file, std::ios::binary);
  if (!in || error) throw InvalidInput(file.string() + ": cannot be read");
  const auto header = read_at<Elf64_Ehdr>(in, 0, file);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    throw InvalidInput(file.string() + ": not a 64-bit ELF file");
  if (header.e_shnum > 0 && header.e_shentsize != sizeof(Elf64_Shdr))
    throw InvalidInput(file.string() + ": malformed ELF file: section headers of " +
                       std::to_string(header.e_shentsize) + " bytes, not " + std::to_string(sizeof(Elf64_Shdr)));
  require_inside(header.e_shoff, std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr), file_size, "section header table",
                 file);

  std::vector<Elf64_Shdr> sections(header.e_shnum);
  for (std::size_t i = 0; i < sections.size(); ++i)
    sections[i] = read_at<Elf64_Shdr>(in, header.e_shoff + i * sizeof(Elf64_Shdr), file);

  std::vector<std::string> names;
  for (const auto& section : sections) {
    if (section.sh_type != SHT_DYNSYM || section.sh_link >= sections.size()) continue;
    const auto& strtab = sections[section.sh_link];
    require_inside(section.sh_offset, section.sh_size, file_size, "dynamic symbol table", file);
    require_inside(strtab.sh_offset, strtab.sh_size, file_size, "dynamic string table", file);
    std::string strings(strtab.sh_size, '\0');
    in.seekg(static_cast<std::streamoff>(strtab.sh_offset));
    in.read(strings.data(), static_cast<std::streamsize>(strings.size()));
    if (!in) throw InvalidInput(file.string() + ": truncated ELF string table");
    const std::size_t count = section.sh_size / sizeof(Elf64_Sym);
    for (std::size_t i = 1; i < count; ++i) {
      const auto sym = read_at<Elf64_Sym>(in, section.sh_offset + i * sizeof(Elf64_Sym), file);
      const int binding = ELF64_ST_BIND(sym.st_info);
      if (sym.st_shndx == SHN_UNDEF || (binding != STB_GLOBAL && binding != STB_WEAK)) continue;
      if (ELF64_ST_VISIBILITY(sym.st_other) != STV_DEFAULT || sym.st_name >= strings.size()) continue;
      names.emplace_back(strings.c_str() + sym.st_name);
    }
  }
  return names;
}

}  // namespace medadv::host
