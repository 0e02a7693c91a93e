#pragma once
// Procedural dermoscopy images of one pigmented skin lesion: the image generator behind
// the phantom-derm dataset plugin (phantom_derm.h).
//
// One image: skin of a random tone with mottled pigmentation and the rhomboid net of skin
// furrows, lit unevenly, sometimes seen through the dermoscope's round aperture (dark
// corners), sometimes crossed by hairs; and one lesion:
// - nevus: small, round or oval and symmetric, one shade of brown fading gently at
//   its border, with a regular pigment network or regular globules;
// - melanoma: larger, asymmetric, with an irregular, ragged border, and variegated:
//   patches of black, dark brown, blue-grey (veil), red and white (regression) over
//   brown, an atypical (broken) network, irregular dots at one side and streaks at the
//   border;
// - seborrheic keratosis: "stuck on": oval, sharply demarcated, tan to brown, with
//   cerebriform fissures and ridges, milia-like cysts (white-yellow dots) and
//   comedo-like openings (dark round dots).
// Then white balance, exposure, mild blur and Gaussian noise.
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

namespace medadv::plugins::phantom {

enum class DermLesion { Nevus = 0, Melanoma = 1, SeborrheicKeratosis = 2 };

struct DermSpec {
  std::int64_t image_size = 64;
  DermLesion lesion = DermLesion::Nevus;
  double noise = 0.02;        // standard deviation of the Gaussian acquisition noise
  double lesion_scale = 1.0;  // multiplies the lesion's size
  double atypia = 1.0;        // how strongly a melanoma shows its signs: 1 textbook, 0 like a nevus
  double hair = 0.3;          // probability that hairs cross the image
};

struct DermLayout {
  double cx = 0, cy = 0;  // the lesion's centre (normalised coordinates, y down)
  double radius = 0;      // its mean radius
  std::int64_t hairs = 0;
};

// Renders one image, [3,S,S] float32 in [0,1]. Every random choice comes from `gen`.
// `mask` (optional) receives [1,S,S] float32, 1 on the lesion.
torch::Tensor render_derm(const DermSpec& spec, at::Generator& gen, torch::Tensor* mask = nullptr,
                          DermLayout* layout = nullptr);

// The lesion of an image drawn from its own generator before rendering: melanoma with
// probability `balance`; otherwise a nevus, or (with_keratosis) a nevus or a seborrheic
// keratosis with equal probability.
DermLesion draw_derm_lesion(at::Generator& gen, double balance, bool with_keratosis);

}  // namespace medadv::plugins::phantom
