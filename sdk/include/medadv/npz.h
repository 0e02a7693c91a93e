#pragma once
// NumPy .npz archives: the exchange format for arrays (MedMNIST ships as .npz) and the
// format of medadv's own caches of decoded data.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

// Every `name.npy` entry of the archive as a CPU tensor keyed by `name` (other entries
// are ignored). Zip entries stored or deflated (np.savez / np.savez_compressed, zip64
// included); .npy format versions 1 to 3; C or Fortran order (returned contiguous in C
// order). dtypes: |u1 -> uint8, |i1 -> int8, <i2 -> int16, <u2 and <i4 -> int32,
// <u4 and <i8 -> int64, <f2 -> float16, <f4 -> float32, <f8 -> float64, |b1 -> bool.
// Problems (not a zip, truncated, corrupt, big-endian or unsupported dtype, a shape whose
// byte count overflows or disagrees with the member's size, a member declaring more bytes
// than its compressed data can hold, ...) throw InvalidInput naming the file and the
// array, before anything is allocated; an array too large for memory throws Error naming
// them.
MEDADV_API std::map<std::string, torch::Tensor> read_npz(const std::filesystem::path& file);

// An array of an archive as its .npy header describes it: the dtype read_npz returns and
// numpy's shape.
struct MEDADV_API NpzArrayInfo {
  std::string name;
  torch::ScalarType dtype = torch::kFloat;
  std::vector<std::int64_t> shape;
};

// The archive's arrays, in its order, from their headers alone (a deflated member is
// inflated only as far as its header). Problems throw as read_npz does.
MEDADV_API std::vector<NpzArrayInfo> npz_arrays(const std::filesystem::path& file);

// Reads the array `name` `block_rows` rows at a time, in order, stored or deflated:
// `rows(begin, block)` gets rows [begin, begin + block.size(0)) as read_npz would return
// them, so that memory holds one block, never the array (a MedMNIST+ archive at 224 px
// holds gigabytes). A 0-d or Fortran-order array, a missing name, or anything read_npz
// refuses throws InvalidInput naming the file and the array; `rows` may throw to stop.
MEDADV_API void read_npz_rows(const std::filesystem::path& file, const std::string& name, std::int64_t block_rows,
                              const std::function<void(std::int64_t begin, const torch::Tensor& block)>& rows);

// Writes the arrays (entries `name.npy`, in the order given) as an uncompressed npz
// readable by numpy.load. Tensors of dtype float16/32/64, int8/16/32/64, uint8 or bool,
// on any device (copied to the CPU). Written by write_file_atomically (medadv/atomic_file.h):
// a crash never leaves a half-written archive. Bad names or dtypes throw InvalidInput; I/O
// failures throw Error naming the file.
MEDADV_API void write_npz(const std::filesystem::path& file,
                          const std::vector<std::pair<std::string, torch::Tensor>>& arrays);

// One array of an archive that need not be in memory: `shape[0]` rows of `dtype`, which
// `rows(begin, end)` returns on demand (rows [begin, end), on any device). A 0-d array
// (empty `shape`) is asked for rows(0, 1) once.
struct MEDADV_API NpzRows {
  std::string name;
  torch::ScalarType dtype = torch::kFloat;
  std::vector<std::int64_t> shape;
  std::function<torch::Tensor(std::int64_t begin, std::int64_t end)> rows;
};

// As write_npz, asking each array for `block_rows` rows at a time while the archive is
// written, so that memory holds one block, not the arrays. A block of the wrong dtype or
// shape throws Error naming the array; an exception from `rows` leaves no file.
MEDADV_API void write_npz(const std::filesystem::path& file, const std::vector<NpzRows>& arrays,
                          std::int64_t block_rows);

}  // namespace medadv
