// The phantom-derm generator and its dataset plugin class.
#include "derm_phantom.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "phantom_derm.h"
#include "phantom_draw.h"
#include "phantom_set.h"

namespace medadv::plugins::phantom {

namespace {

// Layers of paint_ellipses: dark dots and globules (pigment, comedo-like openings), pale
// dots (milia-like cysts).
constexpr std::int64_t kDarkDots = 0, kPaleDots = 1, kDotLayers = 2;
// Layers of render_strokes.
constexpr std::int64_t kHair = 0, kStreak = 1, kDermStrokeLayers = 2;

constexpr std::int64_t kHarmonics = 16;

RGB mix(const RGB& a, const RGB& b, double t) {
  return RGB{a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// Pigment absorbs: a lesion's colour is never lighter than `fraction` of the skin's.
RGB darker_than(const RGB& c, const RGB& skin, double fraction) {
  return RGB{std::min(c.r, fraction * skin.r), std::min(c.g, fraction * skin.g), std::min(c.b, fraction * skin.b)};
}

// A point at a fraction `depth` of the lesion's boundary radius in direction `angle`.
Point inside(const StarShape& s, double angle, double depth) {
  const double r = depth * s.boundary(angle);
  return Point{s.cx + r * std::cos(angle), s.cy + r * std::sin(angle)};
}

double lerp(double a, double b, double t) { return a + (b - a) * t; }

// The outline: nevi small, round or oval and smooth; keratoses oval and a little lumpy;
// melanomas larger, lopsided, with a ragged border. A melanoma of atypia t lies between
// a nevus (t = 0) and the textbook melanoma (t = 1).
StarShape lesion_outline(Sampler& rng, DermLesion kind, double scale, double atypia) {
  StarShape s;
  s.cx = std::clamp(rng.normal(0, 0.08), -0.2, 0.2);
  s.cy = std::clamp(rng.normal(0, 0.08), -0.2, 0.2);
  std::vector<double> amp(kHarmonics, 0.0);
  if (kind == DermLesion::SeborrheicKeratosis) {
    s.radius = rng.uniform(0.28, 0.42);
    amp[1] = rng.uniform(0.08, 0.22);
    amp[2] = rng.uniform(0.0, 0.04);
    for (std::int64_t k = 3; k < 8; ++k) amp[k] = rng.uniform(0.01, 0.03);
  } else {
    s.radius = rng.uniform(0.24, 0.36);
    amp[1] = rng.uniform(0.0, 0.12);
    for (std::int64_t k = 2; k < kHarmonics; ++k) amp[k] = rng.uniform(0.0, 0.012) / static_cast<double>(k);
    if (kind == DermLesion::Melanoma) {
      std::vector<double> atypical(kHarmonics, 0.0);
      atypical[0] = rng.uniform(0.08, 0.18);
      atypical[1] = rng.uniform(0.05, 0.2);
      atypical[2] = rng.uniform(0.06, 0.15);
      atypical[3] = rng.uniform(0.03, 0.08);
      atypical[4] = rng.uniform(0.02, 0.06);
      for (std::int64_t k = 5; k < kHarmonics; ++k) atypical[k] = rng.uniform(0.01, 0.03);
      for (std::int64_t k = 0; k < kHarmonics; ++k) amp[k] = lerp(amp[k], atypical[k], atypia);
      s.radius = lerp(s.radius, rng.uniform(0.34, 0.5), atypia);
    }
  }
  s.radius *= scale;
  s.amplitude = amp;
  for (std::int64_t k = 0; k < kHarmonics; ++k) s.phase.push_back(rng.uniform(0, 2 * kPi));
  return s;
}

// A net of thin lines `spacing` apart, rotated by `angle`, each family of lines bent by
// its own phase field (radians, [H,W]): about 1 on the lines, 0 in the holes. [H,W]
torch::Tensor network(const Canvas& cv, double spacing, double angle, const torch::Tensor& warp_u,
                      const torch::Tensor& warp_v) {
  const double f = 2 * kPi / std::max(spacing, 3 * cv.pixel);
  auto u = (cv.x * std::cos(angle) + cv.y * std::sin(angle)) * f + warp_u;
  auto v = (cv.y * std::cos(angle) - cv.x * std::sin(angle)) * f + warp_v;
  auto holes = (torch::cos(u) + 1) * (torch::cos(v) + 1) * 0.25;
  return (1 - holes.sqrt()).pow(2);
}

// Dots inside the lesion between depths lo and hi of its radius, within `spread` radians
// of `towards` (spread >= pi: all around).
void add_dots(Sampler& rng, const StarShape& s, std::int64_t n, double lo, double hi, double towards, double spread,
              double r_lo, double r_hi, std::int64_t layer, std::vector<Ellipse>& out) {
  for (std::int64_t k = 0; k < n; ++k) {
    const double angle = towards + rng.uniform(-spread, spread);
    const Point p = inside(s, angle, std::sqrt(rng.uniform(lo * lo, hi * hi)));
    const double r = rng.uniform(r_lo, r_hi);
    out.push_back(Ellipse{p.x, p.y, r, r * rng.uniform(0.7, 1.0), rng.uniform(0, kPi), 0.4 * r,
                          rng.uniform(0.7, 1.0), layer});
  }
}

// A nevus's look at `strength` (1 for a nevus): darker towards the centre, with a
// regular pigment network or regular globules.
void nevus_pattern(Sampler& rng, const Canvas& cv, const StarShape& outline, const torch::Tensor& core,
                   double strength, torch::Tensor& pigment, std::vector<Ellipse>& dots) {
  pigment = pigment * (1 - (0.18 * strength) * core.unsqueeze(0));
  if (rng.chance(0.6)) {
    auto warp = smooth_noise(cv, rng.generator(), 4, 2);
    auto net = network(cv, rng.uniform(0.07, 0.1), rng.uniform(0, kPi), warp[0], warp[1]);
    pigment = pigment * (1 - (0.18 * strength) * (net * core.clamp_max(0.6) / 0.6).unsqueeze(0));
  } else {
    const auto n = static_cast<std::int64_t>(std::lround(strength * static_cast<double>(rng.integer(8, 16))));
    add_dots(rng, outline, n, 0.0, 0.75, 0, kPi, 0.02, 0.03, kDarkDots, dots);
  }
}

}  // namespace

DermLesion draw_derm_lesion(at::Generator& gen, double balance, bool with_keratosis) {
  const CaseDraw c = draw_case(gen, balance);
  if (c.abnormal) return DermLesion::Melanoma;
  return with_keratosis && c.subtype < 0.5 ? DermLesion::SeborrheicKeratosis : DermLesion::Nevus;
}

torch::Tensor render_derm(const DermSpec& spec, at::Generator& gen, torch::Tensor* mask, DermLayout* layout) {
  TORCH_CHECK(spec.image_size >= 8, "render_derm: image_size too small");
  TORCH_CHECK(spec.lesion_scale > 0 && spec.atypia >= 0, "render_derm: lesion_scale must be > 0, atypia >= 0");
  const auto S = spec.image_size;
  const Canvas cv = Canvas::make(S, S);
  Sampler rng(gen);
  const auto radius = cv.distance(0, 0);

  // Skin: tone, mottled pigmentation, the furrows' rhomboid net, uneven light.
  const RGB skin = mix(RGB{0.95, 0.8, 0.68}, RGB{0.6, 0.41, 0.3}, 0.8 * std::pow(rng.uniform(), 1.5));
  const double erythema = rng.uniform(0.0, 0.06);
  auto mottle = smooth_noise(cv, gen, std::clamp<std::int64_t>(S / 8, 6, 24))[0] * rng.uniform(0.02, 0.05);
  auto img = colour(RGB{skin.r + erythema, skin.g - 0.5 * erythema, skin.b - 0.3 * erythema}) *
             (1 + mottle.unsqueeze(0) * colour({1.0, 1.15, 1.3}));
  const double furrow_angle = rng.uniform(0, kPi), furrow_spacing = rng.uniform(0.1, 0.16);
  for (double a : {furrow_angle, furrow_angle + rng.uniform(0.8, 1.4)}) {
    const double f = 2 * kPi / std::max(furrow_spacing, 3 * cv.pixel);
    auto warp = smooth_noise(cv, gen, 5)[0] * 4.0;
    auto furrow = ((torch::cos((cv.x * std::cos(a) + cv.y * std::sin(a)) * f + warp) + 1) * 0.5).pow(12);
    img = img * (1 - rng.uniform(0.015, 0.035) * furrow.unsqueeze(0));
  }
  const double vignetting = rng.uniform(0.08, 0.3);
  auto light = (1 - vignetting * (radius / 1.35).pow(2)) * (1 + rng.uniform(0.03, 0.08) * smooth_noise(cv, gen, 2)[0]);

  // The lesion.
  const StarShape outline = lesion_outline(rng, spec.lesion, spec.lesion_scale, spec.atypia);
  const double a = spec.lesion == DermLesion::Melanoma ? spec.atypia : 0.0;
  const double edge = outline.radius * (spec.lesion == DermLesion::SeborrheicKeratosis
                                            ? rng.uniform(0.02, 0.04)
                                            : lerp(rng.uniform(0.1, 0.16), rng.uniform(0.03, 0.08), a));
  torch::Tensor ratio;
  auto cover = star_coverage(cv, outline, edge, &ratio);
  auto core = (1 - ratio).clamp(0.0, 1.0);  // 1 at the centre, 0 on the border and outside
  std::vector<Ellipse> dots;
  std::vector<Stroke> strokes;
  torch::Tensor pigment;  // [3,H,W] the lesion's colour
  double opacity = 0.9;
  switch (spec.lesion) {
    case DermLesion::Nevus: {
      const RGB brown = darker_than(mix(RGB{0.68, 0.47, 0.32}, RGB{0.36, 0.2, 0.12}, rng.uniform()), skin, 0.7);
      pigment = colour(brown).expand({3, S, S});
      nevus_pattern(rng, cv, outline, core, 1.0, pigment, dots);
      opacity = rng.uniform(0.85, 0.95);
      break;
    }
    case DermLesion::SeborrheicKeratosis: {
      const RGB tan = darker_than(mix(RGB{0.66, 0.5, 0.36}, RGB{0.42, 0.28, 0.18}, rng.uniform()), skin, 0.75);
      auto folds = smooth_noise(cv, gen, std::clamp<std::int64_t>(S / 8, 6, 10))[0];
      auto fissures = torch::exp(-(folds / 0.12).pow(2));
      pigment = colour(tan) * (1 + 0.12 * (folds > 0).to(torch::kFloat32).unsqueeze(0)) *
                (1 - 0.45 * fissures.unsqueeze(0));
      add_dots(rng, outline, rng.integer(3, 10), 0.0, 0.85, 0, kPi, 0.015, 0.03, kPaleDots, dots);
      add_dots(rng, outline, rng.integer(3, 8), 0.0, 0.85, 0, kPi, 0.015, 0.03, kDarkDots, dots);
      opacity = rng.uniform(0.8, 0.95);
      break;
    }
    case DermLesion::Melanoma: {
      // The nevus it resembles at low atypia, then the signs of melanoma growing with it.
      const RGB brown = darker_than(mix(mix(RGB{0.68, 0.47, 0.32}, RGB{0.52, 0.32, 0.2}, a),
                                        mix(RGB{0.36, 0.2, 0.12}, RGB{0.3, 0.17, 0.1}, a), rng.uniform()),
                                    skin, 0.7);
      pigment = colour(brown).expand({3, S, S});
      nevus_pattern(rng, cv, outline, core, 1 - a, pigment, dots);
      // Patches of other colours, placed off centre: variegated and asymmetric. The
      // first is black or dark brown.
      std::vector<RGB> palette = {{0.12, 0.08, 0.07}, {0.3, 0.16, 0.09}, {0.45, 0.49, 0.58},
                                  {0.7, 0.38, 0.38}, {0.85, 0.8, 0.78}, {0.74, 0.54, 0.38}};
      const auto patches = 2 + static_cast<std::int64_t>(a * rng.uniform(1.0, 3.99));
      for (std::int64_t k = 0; k < patches && !palette.empty(); ++k) {
        const auto pick =
            static_cast<std::size_t>(rng.integer(0, k == 0 ? 1 : static_cast<std::int64_t>(palette.size()) - 1));
        const RGB c = palette[pick];
        palette.erase(palette.begin() + static_cast<std::ptrdiff_t>(pick));
        const Point p = inside(outline, rng.uniform(0, 2 * kPi), 0.7 * std::sqrt(rng.uniform()));
        auto spot = gaussian_spot(cv, p.x, p.y, outline.radius * rng.uniform(0.2, 0.4));
        auto patch = ((spot * (1 + 1.2 * smooth_noise(cv, gen, 7)[0]) - 0.3) * 1.8).clamp(0.0, 1.0);
        pigment = blend(pigment, (patch * (a * rng.uniform(0.7, 1.0))).unsqueeze(0), colour(c));
      }
      // An atypical network: irregular, broken off in places.
      auto warp = smooth_noise(cv, gen, 5, 2) * 5.0;
      auto net = network(cv, rng.uniform(0.06, 0.12), rng.uniform(0, kPi), warp[0], warp[1]);
      auto broken = (smooth_noise(cv, gen, 4)[0] > 0).to(torch::kFloat32);
      pigment = pigment * (1 - (0.35 * a) * (net * broken * core.clamp_max(0.5) / 0.5).unsqueeze(0));
      // Irregular dots and globules, crowded to one side; streaks at the border.
      const double side = rng.uniform(0, 2 * kPi);
      add_dots(rng, outline, static_cast<std::int64_t>(std::lround(a * rng.uniform(5, 15))), 0.5, 1.0, side, 1.0,
               0.015, 0.035, kDarkDots, dots);
      const auto streaks = static_cast<std::int64_t>(std::lround(a * rng.uniform(0, 6)));
      for (std::int64_t k = 0; k < streaks; ++k) {
        const double angle = side + rng.uniform(-0.8, 0.8);
        Stroke st;
        st.points = {inside(outline, angle, 0.85), inside(outline, angle + rng.normal(0, 0.05), 1.15)};
        st.widths = {0.022, 0.01};
        st.strength = rng.uniform(0.8, 1.2);
        st.layer = kStreak;
        strokes.push_back(st);
      }
      opacity = lerp(rng.uniform(0.85, 0.95), rng.uniform(0.9, 0.98), a);
      break;
    }
  }
  img = blend(img, (cover * opacity).unsqueeze(0), pigment);
  auto spots = paint_ellipses(cv, dots, kDotLayers);
  img = blend(img, spots[kDarkDots].unsqueeze(0), colour({0.2, 0.11, 0.07}));
  img = blend(img, spots[kPaleDots].unsqueeze(0), colour({0.96, 0.93, 0.8}));

  // Hairs, dark brown to black, over everything.
  std::int64_t hairs = 0;
  if (rng.chance(spec.hair)) {
    hairs = rng.integer(2, 10);
    auto off_image = [](const Point& p) { return std::abs(p.x) > 1.3 || std::abs(p.y) > 1.3; };
    for (std::int64_t k = 0; k < hairs; ++k) {
      Walk w;
      w.start = Point{rng.uniform(-1.1, 1.1), rng.uniform(-1.1, 1.1)};
      w.heading = rng.uniform(0, 2 * kPi);
      w.length = rng.uniform(0.8, 2.2);
      w.step = 0.03;
      w.turn = rng.uniform(-0.5, 0.5);
      w.wiggle = 0.25;
      w.width0 = rng.uniform(0.007, 0.013);
      w.width1 = 0.8 * w.width0;
      w.strength = rng.uniform(0.9, 1.6);
      w.layer = kHair;
      strokes.push_back(random_walk(rng, w, off_image));
    }
  }
  auto od = render_strokes(cv, strokes, kDermStrokeLayers);
  img = img * torch::exp(-od[kHair].unsqueeze(0) * colour({1.0, 1.15, 1.25}) -
                         od[kStreak].unsqueeze(0) * colour({0.9, 1.3, 1.5}));

  // Acquisition: light, white balance, exposure, the aperture (sometimes), blur, noise.
  const double exposure = rng.uniform(0.88, 1.08);
  img = img * light.unsqueeze(0) *
        colour(RGB{exposure * rng.uniform(0.95, 1.05), exposure * rng.uniform(0.95, 1.05),
                   exposure * rng.uniform(0.95, 1.05)});
  torch::Tensor aperture = torch::ones_like(radius);
  if (rng.chance(0.4)) aperture = ((rng.uniform(1.0, 1.25) - radius) / 0.04 + 0.5).clamp(0.0, 1.0);
  img = gaussian_blur(img * aperture.unsqueeze(0), rng.uniform(0.4, 0.7));
  if (spec.noise > 0) img = img + torch::randn({3, S, S}, gen, torch::TensorOptions().dtype(torch::kFloat32)) * spec.noise;
  img = img.clamp(0.0, 1.0);

  if (mask) *mask = ((cover >= 0.5) & (aperture > 0.5)).to(torch::kFloat32).unsqueeze(0);
  if (layout) {
    layout->cx = outline.cx;
    layout->cy = outline.cy;
    layout->radius = outline.radius;
    layout->hairs = hairs;
  }
  return img.contiguous();
}

// ---- The dataset plugin ------------------------------------------------------

void PhantomDerm::schema(medadv::ParamSchema& s) {
  s.add_int("image_size", 64, "side of the square images, in pixels").min(16).max(1024);
  s.add_int("count", 600, "number of images (drawn when read: any count costs no memory)").min(2).max(10000000);
  s.add_int("classes", 2,
            "2: benign (nevus) / malignant (melanoma); 3: nevus, seborrheic keratosis, melanoma (half of the "
            "benign images become keratoses)")
      .min(2)
      .max(3);
  s.add_float("noise", 0.02, "standard deviation of the Gaussian acquisition noise (intensities in [0,1])")
      .min(0)
      .max(0.5);
  s.add_float("balance", 0.5, "fraction of melanomas").min(0).max(1);
  s.add_float("lesion_scale", 1.0, "multiplies every lesion's size").min_exclusive(0).max(2);
  s.add_float("atypia", 1.0,
              "how strongly melanomas show their signs (size, asymmetry, ragged border, colour variegation, "
              "dots, streaks): 1 textbook, 0 drawn like a nevus (the labels become noise); smaller makes the "
              "task harder")
      .min(0)
      .max(1);
  s.add_float("hair", 0.3, "probability that hairs cross an image").min(0).max(1);
  s.add_enum<medadv::Task>("task", task_names(), medadv::Task::Classification,
             "classification: labels are the diagnosis (masks hold the lesion too); segmentation: the target is "
             "the lesion masks [N,1,H,W] (inside the dermoscope's aperture), no labels");
}

PhantomDerm::PhantomDerm(const medadv::Params& p, medadv::RunContext& /*ctx*/)
    : image_size_(p.get_int("image_size")),
      count_(p.get_int("count")),
      classes_(p.get_int("classes")),
      noise_(p.get_float("noise")),
      balance_(p.get_float("balance")),
      lesion_scale_(p.get_float("lesion_scale")),
      atypia_(p.get_float("atypia")),
      hair_(p.get_float("hair")),
      segmentation_(p.get_enum<medadv::Task>("task") == medadv::Task::Segmentation) {}

std::shared_ptr<medadv::DataSource> PhantomDerm::open(medadv::RunContext& ctx) {
  const auto class_names = classes_ == 2
                               ? std::vector<std::string>{"benign", "malignant"}
                               : std::vector<std::string>{"nevus", "seborrheic keratosis", "melanoma"};
  const auto label_of = [classes = classes_](DermLesion lesion) -> std::int64_t {
    switch (lesion) {
      case DermLesion::Nevus: return 0;
      case DermLesion::SeborrheicKeratosis: return 1;
      case DermLesion::Melanoma: return classes == 2 ? 1 : 2;
    }
    return 0;
  };
  const bool three = classes_ == 3;
  PhantomDrawing drawing;
  drawing.label = [label_of, balance = balance_, three](at::Generator& gen) {
    return label_of(draw_derm_lesion(gen, balance, three));
  };
  drawing.draw = [label_of, balance = balance_, three, size = image_size_, noise = noise_, lesion_scale = lesion_scale_,
                  atypia = atypia_, hair = hair_](at::Generator& gen) {
    DermSpec spec;
    spec.image_size = size;
    spec.lesion = draw_derm_lesion(gen, balance, three);
    spec.noise = noise;
    spec.lesion_scale = lesion_scale;
    spec.atypia = atypia;
    spec.hair = hair;
    PhantomSample sample;
    sample.image = render_derm(spec, gen, &sample.mask);
    sample.label = label_of(spec.lesion);
    return sample;
  };
  return phantom_source(ctx, "phantom-derm", {count_, 3, image_size_}, "dermoscopy", class_names,
                        segmentation_ ? std::optional<std::string>("lesion") : std::nullopt, std::move(drawing));
}

}  // namespace medadv::plugins::phantom
