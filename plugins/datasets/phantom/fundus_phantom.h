#pragma once
// Procedural colour fundus photographs with diabetic retinopathy lesions: the image
// generator behind the phantom-fundus dataset plugin (phantom_fundus.h).
//
// One image: a circular field of view (black outside) over a reddish-orange fundus
// with vignetting, uneven illumination and choroidal texture; a bright yellowish optic
// disc (about 1/8 of the image diameter) left or right of centre with a paler cup; a
// darker macula 2.5 disc diameters from the disc on its horizontal line; veins and
// arteries leaving the disc in four arcades that branch and taper; and, growing with
// the grade, microaneurysms, haemorrhages, hard exudates, cotton-wool spots and (grade
// 4) neovascular tufts. Then a random global gain and offset, mild blur and Gaussian
// acquisition noise.
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

namespace medadv::plugins::phantom {

// Radius of the circular field of view in normalised units (the image spans [-1, 1]).
inline constexpr double kFundusFovRadius = 0.94;

struct FundusSpec {
  std::int64_t image_size = 64;
  int grade = 0;              // 0 none, 1 mild, 2 moderate, 3 severe, 4 proliferative
  double noise = 0.02;        // standard deviation of the Gaussian acquisition noise
  double lesion_scale = 1.0;  // multiplies every lesion's size
};

// Where the anatomy of one image was placed (normalised coordinates, y down).
struct FundusLayout {
  double fov_radius = kFundusFovRadius;
  double disc_x = 0, disc_y = 0, disc_radius = 0;
  double macula_x = 0, macula_y = 0;
  std::int64_t lesions = 0;  // lesion shapes drawn (microaneurysms, blots, spots, tufts)
};

// Renders one image, [3,S,S] float32 in [0,1], zero outside the field of view. Every
// random choice comes from `gen`, so a generator seeded alike gives the same image.
// `mask` (optional) receives [1,S,S] float32, 1 on lesion pixels (all zero for grade 0);
// `layout` (optional) receives the anatomy's placement.
torch::Tensor render_fundus(const FundusSpec& spec, at::Generator& gen, torch::Tensor* mask = nullptr,
                            FundusLayout* layout = nullptr);

// The grade of an image drawn from its own generator before rendering: diseased
// (grade >= 1) with probability `balance`, grades 1..4 equally likely among diseased.
int draw_fundus_grade(at::Generator& gen, double balance);

}  // namespace medadv::plugins::phantom
