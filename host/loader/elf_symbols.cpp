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
}  // namespace

std::vector<std::string> exported_dynamic_symbols(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InvalidInput(file.string() + ": cannot be read");
  const auto header = read_at<Elf64_Ehdr>(in, 0, file);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    throw InvalidInput(file.string() + ": not a 64-bit ELF file");

  // Offsets and sizes come from the file itself: what lies outside it is refused before
  // anything is allocated or read for it (a damaged header once asked for exabytes).
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(file, ec);
  if (ec) throw InvalidInput(file.string() + ": cannot be read");
  const auto inside_file = [&](std::uint64_t offset, std::uint64_t size) {
    return offset <= file_size && size <= file_size - offset;
  };
  if (!inside_file(header.e_shoff, std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr)))
    throw InvalidInput(file.string() + ": truncated ELF file");

  std::vector<Elf64_Shdr> sections(header.e_shnum);
  for (std::size_t i = 0; i < sections.size(); ++i)
    sections[i] = read_at<Elf64_Shdr>(in, header.e_shoff + i * sizeof(Elf64_Shdr), file);

  std::vector<std::string> names;
  for (const auto& section : sections) {
    if (section.sh_type != SHT_DYNSYM || section.sh_link >= sections.size()) continue;
    const auto& strtab = sections[section.sh_link];
    if (!inside_file(strtab.sh_offset, strtab.sh_size)) throw InvalidInput(file.string() + ": truncated ELF string table");
    if (!inside_file(section.sh_offset, section.sh_size)) throw InvalidInput(file.string() + ": truncated ELF symbol table");
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
