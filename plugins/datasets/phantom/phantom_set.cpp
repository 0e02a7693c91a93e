#include "phantom_set.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>

#include <unistd.h>

#include <ATen/Parallel.h>

#include "medadv/error.h"
#include "medadv/torch_compat.h"

namespace medadv::plugins::phantom {

namespace {

// The machine's physical memory in bytes (0 when unknown).
double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 0.0;
}

// Refuses, before anything is allocated, a set whose images and masks would take more
// than half the machine's memory: the host copies the splits out of it as well, so such a
// set could never be used, and allocating it first would only end in bad_alloc or the
// kernel's OOM killer.
void require_memory_for(const std::string& name, const PhantomSetShape& shape) {
  const double bytes = static_cast<double>(shape.count) * static_cast<double>(shape.channels + 1) *
                       static_cast<double>(shape.size) * static_cast<double>(shape.size) * sizeof(float);
  const double memory = physical_memory_bytes();
  if (memory == 0.0 || bytes <= memory / 2) return;
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  std::ostringstream message;
  message.precision(3);
  message << name << ": count = " << shape.count << " images of " << shape.size << "x" << shape.size << " need "
          << bytes / kGiB << " GiB (images and masks), more than half of this machine's " << memory / kGiB
          << " GiB of memory; lower count or image_size";
  throw medadv::InvalidInput(message.str());
}

}  // namespace

PhantomSet render_phantom_set(medadv::RunContext& ctx, const std::string& name, const PhantomSetShape& shape,
                              const std::vector<std::string>& class_names,
                              const std::function<PhantomSample(at::Generator&)>& render) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t seed = ctx.seed_for(name);
  require_memory_for(name, shape);
  const auto N = shape.count, S = shape.size;
  PhantomSet out;
  out.images = torch::empty({N, shape.channels, S, S}, torch::kFloat32);
  out.masks = torch::empty({N, 1, S, S}, torch::kFloat32);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(N));

  // Inside a worker each tensor operation runs serially, so small images do not pay for
  // a parallel region per operation; the drawing code uses no thread-dependent
  // reductions, so the result does not depend on the thread count.
  auto render_one = [&](std::int64_t i) {
    auto gen = medadv::compat::cpu_generator(medadv::derive_seed(seed, "image/" + std::to_string(i)));
    PhantomSample sample = render(gen);
    out.images[i].copy_(sample.image);
    out.masks[i].copy_(sample.mask);
    labels[static_cast<std::size_t>(i)] = sample.label;
  };
  ctx.progress().begin("dataset " + name, N);
  constexpr std::int64_t kChunk = 64;  // images between progress reports
  for (std::int64_t begin = 0; begin < N; begin += kChunk) {
    const auto end = std::min(N, begin + kChunk);
    at::parallel_for(begin, end, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) render_one(i);
    });
    ctx.progress().advance(end - begin);
  }
  ctx.progress().end();
  out.labels = torch::tensor(labels, torch::kInt64);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ostringstream msg;
  msg << N << " images " << S << "x" << S << " (";
  for (std::size_t c = 0; c < class_names.size(); ++c) {
    const auto n = std::count(labels.begin(), labels.end(), static_cast<std::int64_t>(c));
    msg << (c ? ", " : "") << n << " " << class_names[c];
  }
  msg << "), generated in " << seconds << " s";
  ctx.log().info(msg.str());
  return out;
}

medadv::DatasetContents phantom_contents(PhantomSet set, const std::string& modality,
                                         std::vector<std::string> class_names,
                                         const std::optional<std::string>& segmentation_target) {
  medadv::DatasetContents out;
  out.images = std::move(set.images);
  out.masks = std::move(set.masks);
  out.meta.modality = modality;
  if (segmentation_target) {
    out.meta.task = medadv::Task::Segmentation;
    out.meta.class_names = {"background", *segmentation_target};
  } else {
    out.meta.task = medadv::Task::Classification;
    out.meta.class_names = std::move(class_names);
    out.labels = std::move(set.labels);
  }
  return out;
}

}  // namespace medadv::plugins::phantom
