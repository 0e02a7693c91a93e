// The phantom-fundus generator and its dataset plugin class.
#include "fundus_phantom.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "medadv/error.h"
#include "phantom_draw.h"
#include "phantom_fundus.h"
#include "phantom_set.h"

namespace medadv::plugins::phantom {

namespace {

// Layers of paint_ellipses: red lesions (microaneurysms, haemorrhages), hard
// exudates, cotton-wool spots.
constexpr std::int64_t kRed = 0, kExudate = 1, kCottonWool = 2, kLesionLayers = 3;
// Layers of render_strokes.
constexpr std::int64_t kVein = 0, kArtery = 1, kNeovessel = 2, kVesselLayers = 3;

// vessel_tree() returns the four arcades at these indices (superior vein and artery,
// then inferior vein and artery).
constexpr std::size_t kArcades[] = {0, 1, 4, 5};

// Lesions are kept this far inside the field of view.
constexpr double kLesionRadius = 0.84;

struct Anatomy {
  double side;      // +1: disc right of centre, -1: left
  double rd;        // disc radius
  double dx, dy;    // disc centre
  double mx, my;    // fovea
};

double dist(double ax, double ay, double bx, double by) { return std::hypot(ax - bx, ay - by); }

// An arcade: leaves the disc's centre vertically (up for vertical = -1) and bends
// around the macula towards the temporal side, tapering.
Stroke arcade(Sampler& rng, const Anatomy& a, double vertical, double width0, std::int64_t layer) {
  const double cx = a.mx + a.side * rng.uniform(0.0, 0.1);
  const double ax = std::abs(a.dx - cx);
  const double ay = rng.uniform(0.36, 0.5);
  const double stretch = rng.uniform(1.25, 1.6);  // the temporal half reaches further out
  const double phi_end = rng.uniform(2.1, 2.45);
  const double wobble = rng.uniform(0.02, 0.05), freq = rng.uniform(2.0, 4.5), phase = rng.uniform(0, 2 * kPi);
  const double drift = rng.uniform(-0.06, 0.06);  // the far end sags or rises a little
  Stroke s;
  s.layer = layer;
  const double length = phi_end * 0.5 * (ax * stretch + ay);
  const auto n = std::max<std::int64_t>(8, static_cast<std::int64_t>(std::ceil(length / 0.02)));
  for (std::int64_t k = 0; k <= n; ++k) {
    const double t = static_cast<double>(k) / static_cast<double>(n);
    const double phi = phi_end * t;
    const double rr = 1 + wobble * std::sin(freq * phi + phase) * std::min(1.0, 3 * phi);
    const double c = std::cos(phi) * (phi > kPi / 2 ? stretch : 1.0);
    s.points.push_back(Point{cx + a.side * ax * c * rr,
                             a.dy + vertical * (ay * std::sin(phi) * rr + drift * t * t)});
    s.widths.push_back(width0 * (1 - 0.62 * t));
  }
  return s;
}

bool outside_fov(const Point& p) { return std::hypot(p.x, p.y) > kFundusFovRadius + 0.02; }

// Side branches of `parent`, and (depth > 0) their own twigs. Branches stay out of the
// foveal avascular zone.
void add_branches(Sampler& rng, const Anatomy& a, const Stroke& parent, std::int64_t count, int depth,
                  std::vector<Stroke>& out) {
  const auto n = static_cast<std::int64_t>(parent.points.size());
  if (n < 6) return;
  auto stop = [&a](const Point& p) { return outside_fov(p) || dist(p.x, p.y, a.mx, a.my) < 0.13; };
  for (std::int64_t b = 0; b < count; ++b) {
    const auto i = static_cast<std::size_t>(rng.integer(n * 15 / 100, n * 85 / 100));
    const double sign = rng.chance(0.5) ? 1.0 : -1.0;
    Walk w;
    w.start = parent.points[i];
    w.heading = parent.heading(i) + sign * rng.uniform(0.45, 1.1);
    w.length = rng.uniform(0.15, 0.45) * (depth > 0 ? 1.0 : 0.7);
    w.step = 0.02;
    w.turn = -sign * rng.uniform(-0.5, 1.5);
    w.wiggle = 0.8;
    w.width0 = parent.widths[i] * rng.uniform(0.55, 0.75);
    w.width1 = w.width0 * 0.35;
    w.layer = parent.layer;
    w.strength = parent.strength;
    Stroke branch = random_walk(rng, w, stop);
    if (branch.points.size() < 2) continue;
    out.push_back(branch);
    if (depth > 0 && rng.chance(0.6)) add_branches(rng, a, branch, 1, depth - 1, out);
  }
}

// The vessel tree: per quadrant a vein and an artery, temporal ones as arcades around
// the macula, nasal ones as curved walks, all branching; plus a few thin
// papillomacular vessels.
std::vector<Stroke> vessel_tree(Sampler& rng, const Anatomy& a) {
  std::vector<Stroke> mains;
  const double vein_width = rng.uniform(0.026, 0.034);
  for (double vertical : {-1.0, 1.0}) {
    mains.push_back(arcade(rng, a, vertical, vein_width * rng.uniform(0.9, 1.05), kVein));
    mains.push_back(arcade(rng, a, vertical, vein_width * rng.uniform(0.65, 0.8), kArtery));
    for (std::int64_t layer : {kVein, kArtery}) {
      Walk w;
      const double alpha = rng.uniform(0.3, 1.25);  // from the nasal horizontal
      w.start = Point{a.dx, a.dy};
      w.heading = std::atan2(vertical * std::sin(alpha), a.side * std::cos(alpha));
      w.length = rng.uniform(0.45, 0.75);
      w.turn = rng.uniform(-0.6, 0.6);
      w.wiggle = 0.6;
      w.width0 = vein_width * (layer == kVein ? rng.uniform(0.75, 0.9) : rng.uniform(0.55, 0.7));
      w.width1 = w.width0 * 0.35;
      w.layer = layer;
      mains.push_back(random_walk(rng, w, outside_fov));
    }
  }
  std::vector<Stroke> all = mains;
  for (const auto& m : mains) add_branches(rng, a, m, rng.integer(2, 4), 1, all);
  // Small vessels from the arcades towards the fovea, which they leave free.
  auto clear_of_fovea = [&a](const Point& p) { return dist(p.x, p.y, a.mx, a.my) < 0.13; };
  for (std::size_t m : kArcades) {
    const Stroke& arc = mains[m];
    const auto n = static_cast<std::int64_t>(arc.points.size());
    const auto twigs = rng.integer(1, 3);
    for (std::int64_t k = 0; k < twigs; ++k) {
      const auto i = static_cast<std::size_t>(rng.integer(n * 25 / 100, n * 75 / 100));
      Walk w;
      w.start = arc.points[i];
      w.heading = std::atan2(a.my - w.start.y, a.mx - w.start.x) + rng.normal(0, 0.35);
      w.length = rng.uniform(0.12, 0.3);
      w.turn = rng.uniform(-1.0, 1.0);
      w.wiggle = 1.0;
      w.width0 = arc.widths[i] * rng.uniform(0.35, 0.5);
      w.width1 = w.width0 * 0.3;
      w.layer = arc.layer;
      all.push_back(random_walk(rng, w, clear_of_fovea));
    }
  }
  // Thin vessels from the disc's temporal rim towards the macula.
  const auto pm = rng.integer(1, 3);
  for (std::int64_t k = 0; k < pm; ++k) {
    Walk w;
    w.start = Point{a.dx - a.side * a.rd * 0.8, a.dy + rng.uniform(-0.6, 0.6) * a.rd};
    w.heading = std::atan2(a.my - w.start.y + rng.normal(0, 0.12), a.mx - w.start.x);
    w.length = rng.uniform(0.2, 0.35);
    w.wiggle = 1.0;
    w.width0 = vein_width * 0.35;
    w.width1 = vein_width * 0.15;
    w.layer = rng.chance(0.5) ? kVein : kArtery;
    all.push_back(random_walk(rng, w, clear_of_fovea));
  }
  return all;
}

// A lesion site in the field of view and off the disc: around the macula (posterior
// pole, Gaussian of `spread`) or, for spread <= 0, anywhere.
Point lesion_site(Sampler& rng, const Anatomy& a, double spread, double min_from_fovea = 0) {
  for (int attempt = 0; attempt < 32; ++attempt) {
    Point p;
    if (spread > 0) {
      p = Point{a.mx + rng.normal(0, spread), a.my + rng.normal(0, spread)};
    } else {
      const double r = kLesionRadius * std::sqrt(rng.uniform());
      const double t = rng.uniform(0, 2 * kPi);
      p = Point{r * std::cos(t), r * std::sin(t)};
    }
    if (std::hypot(p.x, p.y) > kLesionRadius) continue;
    if (dist(p.x, p.y, a.dx, a.dy) < 1.4 * a.rd) continue;
    if (dist(p.x, p.y, a.mx, a.my) < min_from_fovea) continue;
    return p;
  }
  return Point{a.mx, a.my - 0.3};  // above the macula: inside, off the disc
}

bool usable_site(const Anatomy& a, const Point& p) {
  return std::hypot(p.x, p.y) <= kLesionRadius && dist(p.x, p.y, a.dx, a.dy) >= 1.3 * a.rd;
}

struct Lesions {
  std::vector<Ellipse> shapes;
  std::vector<Stroke> neovessels;
};

// Lesions of a grade; their number and kinds grow with it (ICDR: mild = microaneurysms
// only; moderate adds haemorrhages and exudates; severe many of everything;
// proliferative adds neovascularisation and pre-retinal haemorrhage).
Lesions dr_lesions(Sampler& rng, const Anatomy& a, int grade, double scale, const std::vector<Stroke>& vessels) {
  Lesions out;
  if (grade <= 0) return out;
  std::int64_t ma = 0, haem = 0, exudates = 0, cotton = 0, tufts = 0;
  bool preretinal = false;
  switch (grade) {
    case 1:
      ma = rng.integer(3, 8);
      break;
    case 2:
      ma = rng.integer(5, 12);
      haem = rng.integer(2, 6);
      exudates = rng.chance(0.8) ? rng.integer(3, 10) : 0;
      cotton = rng.integer(0, 1);
      break;
    case 3:
      ma = rng.integer(8, 18);
      haem = rng.integer(8, 16);
      exudates = rng.integer(6, 16);
      cotton = rng.integer(1, 4);
      break;
    default:
      ma = rng.integer(8, 18);
      haem = rng.integer(6, 14);
      exudates = rng.integer(4, 14);
      cotton = rng.integer(1, 3);
      tufts = rng.integer(1, 3);
      preretinal = rng.chance(0.5);
      break;
  }
  auto& shapes = out.shapes;
  // Microaneurysms: tiny round dark red dots, mostly at the posterior pole.
  for (std::int64_t k = 0; k < ma; ++k) {
    const Point p = lesion_site(rng, a, rng.chance(0.7) ? 0.32 : 0.0);
    const double r = rng.uniform(0.014, 0.026) * scale;
    shapes.push_back(Ellipse{p.x, p.y, r, r * rng.uniform(0.85, 1.0), rng.uniform(0, kPi), 0.35 * r,
                             rng.uniform(0.85, 1.0), kRed});
  }
  // Haemorrhages: dot (small, round), blot (irregular: a few overlapping ellipses) or
  // flame-shaped (elongated along the nerve fibres, i.e. radially from the disc).
  for (std::int64_t k = 0; k < haem; ++k) {
    const Point p = lesion_site(rng, a, rng.chance(0.7) ? 0.38 : 0.0);
    const double kind = rng.uniform();
    const bool dot = kind < 0.3, flame = kind >= 0.75;
    const double rx = (dot ? rng.uniform(0.022, 0.035) : rng.uniform(0.03, 0.06)) * scale;
    const double ry = rx * (flame ? rng.uniform(0.3, 0.5) : rng.uniform(0.65, 1.0));
    const double angle = flame ? std::atan2(p.y - a.dy, p.x - a.dx) : rng.uniform(0, kPi);
    const double amp = rng.uniform(0.7, 1.0);
    shapes.push_back(Ellipse{p.x, p.y, rx, ry, angle, 0.45 * std::min(rx, ry), amp, kRed});
    const auto parts = (dot || flame) ? 0 : rng.integer(1, 4);
    for (std::int64_t s = 0; s < parts; ++s) {
      const double t = rng.uniform(0, 2 * kPi), off = rx * rng.uniform(0.5, 1.0);
      const double r2 = rx * rng.uniform(0.35, 0.7);
      const Point q{p.x + off * std::cos(t), p.y + off * std::sin(t)};
      if (!usable_site(a, q)) continue;
      shapes.push_back(Ellipse{q.x, q.y, r2, r2 * rng.uniform(0.5, 1.0), rng.uniform(0, kPi), 0.5 * r2,
                               amp * rng.uniform(0.75, 1.0), kRed});
    }
  }
  // Hard exudates: small bright yellow spots in clusters or circinate rings near the
  // macula.
  if (exudates > 0) {
    const auto clusters = rng.integer(1, 3);
    std::vector<Point> centres;
    std::vector<double> rings;
    for (std::int64_t c = 0; c < clusters; ++c) {
      centres.push_back(lesion_site(rng, a, 0.22, 0.08));
      rings.push_back(rng.chance(0.4) ? rng.uniform(0.06, 0.12) : 0.0);
    }
    for (std::int64_t k = 0; k < exudates; ++k) {
      const auto c = static_cast<std::size_t>(rng.integer(0, clusters - 1));
      Point p;
      if (rings[c] > 0) {
        const double t = rng.uniform(0, 2 * kPi);
        p = Point{centres[c].x + rings[c] * std::cos(t) + rng.normal(0, 0.012),
                  centres[c].y + rings[c] * std::sin(t) + rng.normal(0, 0.012)};
      } else {
        p = Point{centres[c].x + rng.normal(0, 0.05), centres[c].y + rng.normal(0, 0.05)};
      }
      const double r = rng.uniform(0.010, 0.024) * scale;
      const double ry = r * rng.uniform(0.6, 1.0), angle = rng.uniform(0, kPi), amp = rng.uniform(0.8, 1.0);
      if (!usable_site(a, p)) continue;
      shapes.push_back(Ellipse{p.x, p.y, r, ry, angle, 0.25 * r, amp, kExudate});
    }
  }
  // Cotton-wool spots: pale, fluffy, along the arcades.
  for (std::int64_t k = 0; k < cotton; ++k) {
    const Point p = lesion_site(rng, a, 0.4, 0.2);
    const double r = rng.uniform(0.03, 0.055) * scale;
    shapes.push_back(Ellipse{p.x, p.y, r, r * rng.uniform(0.55, 0.9), rng.uniform(0, kPi), 0.7 * r,
                             rng.uniform(0.55, 0.8), kCottonWool});
  }
  // Pre-retinal haemorrhage: one large dark blot.
  if (preretinal) {
    const Point p = lesion_site(rng, a, 0.35, 0.15);
    const double rx = rng.uniform(0.07, 0.11) * scale;
    shapes.push_back(Ellipse{p.x, p.y, rx, rx * rng.uniform(0.6, 0.85), rng.normal(0, 0.15), 0.2 * rx, 1.0, kRed});
  }
  // Neovascularisation: tufts of fine tortuous vessels on the disc (NVD) or along an
  // arcade (NVE).
  for (std::int64_t k = 0; k < tufts; ++k) {
    Point c;
    if (rng.chance(0.5) || vessels.size() < 6) {
      const double t = rng.uniform(0, 2 * kPi), r = a.rd * rng.uniform(0.3, 1.0);
      c = Point{a.dx + r * std::cos(t), a.dy + r * std::sin(t)};
    } else {
      const auto& arc = vessels[kArcades[rng.integer(0, 3)]];
      const auto n = static_cast<std::int64_t>(arc.points.size());
      c = arc.points[static_cast<std::size_t>(rng.integer(n * 3 / 10, n * 8 / 10))];
    }
    const auto loops = rng.integer(4, 8);
    for (std::int64_t l = 0; l < loops; ++l) {
      Walk w;
      w.start = Point{c.x + rng.normal(0, 0.02 * scale), c.y + rng.normal(0, 0.02 * scale)};
      w.heading = rng.uniform(0, 2 * kPi);
      w.length = rng.uniform(0.06, 0.14) * scale;
      w.step = 0.01 * std::min(scale, 1.0);
      w.turn = (rng.chance(0.5) ? 1 : -1) * rng.uniform(4.0, 9.0) / scale;
      w.wiggle = 2.5;
      w.width0 = rng.uniform(0.007, 0.011) * scale;
      w.width1 = w.width0 * 0.7;
      w.layer = kNeovessel;
      out.neovessels.push_back(random_walk(rng, w, outside_fov));
    }
  }
  return out;
}

}  // namespace

int draw_fundus_grade(at::Generator& gen, double balance) {
  const CaseDraw c = draw_case(gen, balance);
  if (!c.abnormal) return 0;
  return 1 + std::min(3, static_cast<int>(c.subtype * 4));
}

torch::Tensor render_fundus(const FundusSpec& spec, at::Generator& gen, torch::Tensor* mask, FundusLayout* layout) {
  TORCH_CHECK(spec.image_size >= 8, "render_fundus: image_size too small");
  TORCH_CHECK(spec.grade >= 0 && spec.grade <= 4, "render_fundus: grade must be 0..4");
  TORCH_CHECK(spec.lesion_scale > 0, "render_fundus: lesion_scale must be > 0");
  const auto S = spec.image_size;
  const Canvas cv = Canvas::make(S, S);
  Sampler rng(gen);
  const double R = kFundusFovRadius;
  const auto radius = cv.distance(0, 0);

  // Anatomy: disc (diameter about 1/8 of the image's) left or right of centre, fovea
  // 2.5 disc diameters from it on its horizontal line.
  Anatomy a{};
  a.side = rng.chance(0.5) ? 1.0 : -1.0;
  a.rd = 0.125 * rng.uniform(0.9, 1.1);
  a.dx = a.side * rng.uniform(0.3, 0.4);
  a.dy = rng.uniform(-0.07, 0.07);
  a.mx = a.dx - a.side * 2.5 * 2 * a.rd;
  a.my = a.dy;

  // Background: reddish-orange, vignetted, unevenly lit, with choroidal texture.
  const RGB fundus{rng.uniform(0.72, 0.9), rng.uniform(0.27, 0.4), rng.uniform(0.08, 0.16)};
  const double vignetting = rng.uniform(0.35, 0.55);
  const double unevenness = rng.uniform(0.06, 0.16);
  const double texture_amp = rng.uniform(0.03, 0.07);
  auto illum = (1 - vignetting * (radius / R).clamp_max(1.2).pow(2.2)) * (1 + unevenness * smooth_noise(cv, gen, 2)[0]);
  auto texture = smooth_noise(cv, gen, std::max<std::int64_t>(6, std::min<std::int64_t>(S / 5, 24)))[0] * texture_amp;
  auto img = colour(fundus) * illum.unsqueeze(0) * (1 + texture.unsqueeze(0) * colour({1.0, 1.4, 1.4}));

  // Macula: a darker spot with a broader, fainter surround and sometimes a foveal reflex.
  const double mac_depth = rng.uniform(0.3, 0.45), mac_sigma = a.rd * rng.uniform(0.8, 1.1);
  auto macula = gaussian_spot(cv, a.mx, a.my, mac_sigma) * mac_depth +
                gaussian_spot(cv, a.mx, a.my, 2.4 * a.rd) * rng.uniform(0.08, 0.16);
  img = img * (1 - macula.unsqueeze(0) * colour({0.85, 1.0, 1.0}));
  if (rng.chance(0.6)) {
    auto reflex = gaussian_spot(cv, a.mx, a.my, std::max(0.1 * a.rd, 0.6 * cv.pixel)) * rng.uniform(0.15, 0.3);
    img = blend(img, reflex.unsqueeze(0), colour({0.95, 0.75, 0.5}));
  }

  // Optic disc: pale yellow-orange with a paler cup, slightly temporal.
  const RGB disc_colour{rng.uniform(0.95, 1.0), rng.uniform(0.76, 0.88), rng.uniform(0.42, 0.58)};
  auto disc = soft_disc(cv, a.dx, a.dy, a.rd, 0.35 * a.rd) * rng.uniform(0.85, 0.95);
  img = blend(img, disc.unsqueeze(0), colour(disc_colour));
  const double cup_r = a.rd * rng.uniform(0.3, 0.5);
  auto cup = soft_disc(cv, a.dx - a.side * 0.15 * a.rd, a.dy, cup_r, 0.4 * cup_r) * rng.uniform(0.6, 0.8);
  img = blend(img, cup.unsqueeze(0), colour({1.0, 0.95, 0.8}));

  // Vessels (darker red; veins darker and wider than arteries) and lesions.
  auto vessels = vessel_tree(rng, a);
  const Lesions lesions = dr_lesions(rng, a, spec.grade, spec.lesion_scale, vessels);
  vessels.insert(vessels.end(), lesions.neovessels.begin(), lesions.neovessels.end());
  auto density = render_strokes(cv, vessels, kVesselLayers);
  auto od = density[kVein].unsqueeze(0) * colour({0.42, 0.95, 0.85}) +
            density[kArtery].unsqueeze(0) * colour({0.2, 0.55, 0.5}) +
            density[kNeovessel].unsqueeze(0) * colour({0.5, 1.1, 1.0});
  img = img * torch::exp(-od);

  torch::Tensor footprint;
  auto cover = paint_ellipses(cv, lesions.shapes, kLesionLayers, &footprint);
  img = img * torch::exp(-cover[kRed].unsqueeze(0) * colour({0.55, 1.4, 1.2}));
  auto lit = illum.clamp_min(0.55).unsqueeze(0);
  img = blend(img, cover[kCottonWool].unsqueeze(0), colour({0.95, 0.88, 0.75}) * lit);
  img = blend(img, cover[kExudate].unsqueeze(0), colour({1.0, 0.9, 0.42}) * lit);

  // Acquisition: exposure, mild blur, noise, the field of view's stop.
  const double gain = rng.uniform(0.8, 1.15), offset = rng.uniform(-0.04, 0.04);
  const double blur = rng.uniform(0.4, 0.7);
  img = gaussian_blur(img * gain + offset, blur);
  if (spec.noise > 0) img = img + torch::randn({3, S, S}, gen, torch::TensorOptions().dtype(torch::kFloat32)) * spec.noise;
  auto fov = ((R - radius) / cv.pixel + 0.5).clamp(0.0, 1.0);
  img = img.clamp(0.0, 1.0) * fov.unsqueeze(0);

  if (mask) {
    auto m = (footprint | (density[kNeovessel] > 0.2)) & (fov > 0);
    *mask = m.to(torch::kFloat32).unsqueeze(0);
  }
  if (layout) {
    layout->fov_radius = R;
    layout->disc_x = a.dx;
    layout->disc_y = a.dy;
    layout->disc_radius = a.rd;
    layout->macula_x = a.mx;
    layout->macula_y = a.my;
    layout->lesions = static_cast<std::int64_t>(lesions.shapes.size() + lesions.neovessels.size());
  }
  return img.contiguous();
}

// ---- The dataset plugin ------------------------------------------------------

void PhantomFundus::schema(medadv::ParamSchema& s) {
  s.add_int("image_size", 64, "side of the square images, in pixels").min(16).max(1024);
  s.add_int("count", 600, "number of images (drawn when read: any count costs no memory)").min(2).max(10000000);
  s.add_int("classes", 2,
            "2: no DR / DR (grade >= 1); 5: the DR grades 0 none, 1 mild, 2 moderate, 3 severe, "
            "4 proliferative")
      .min(2)
      .max(5);
  s.add_float("noise", 0.02, "standard deviation of the Gaussian acquisition noise (intensities in [0,1])")
      .min(0)
      .max(0.5);
  s.add_float("balance", 0.5,
              "fraction of diseased images (grade >= 1); grades 1..4 are equally likely among them")
      .min(0)
      .max(1);
  s.add_float("lesion_scale", 1.0, "multiplies every lesion's size; smaller makes the task harder")
      .min_exclusive(0)
      .max(4);
}

PhantomFundus::PhantomFundus(const medadv::Params& p, medadv::RunContext& /*ctx*/)
    : image_size_(p.get_int("image_size")),
      count_(p.get_int("count")),
      classes_(p.get_int("classes")),
      noise_(p.get_float("noise")),
      balance_(p.get_float("balance")),
      lesion_scale_(p.get_float("lesion_scale")) {
  if (classes_ != 2 && classes_ != 5) {
    throw medadv::InvalidInput("phantom-fundus: parameter 'classes' must be 2 (no DR / DR) or 5 (DR grades 0..4), got " +
                               std::to_string(classes_));
  }
}

std::shared_ptr<medadv::DataSource> PhantomFundus::open(medadv::RunContext& ctx) {
  const auto class_names = classes_ == 2 ? std::vector<std::string>{"no DR", "DR"}
                                         : std::vector<std::string>{"none", "mild", "moderate", "severe",
                                                                    "proliferative"};
  const auto label_of = [classes = classes_](std::int64_t grade) -> std::int64_t {
    return classes == 2 ? (grade > 0 ? 1 : 0) : grade;
  };
  PhantomDrawing drawing;
  drawing.label = [label_of, balance = balance_](at::Generator& gen) { return label_of(draw_fundus_grade(gen, balance)); };
  drawing.draw = [label_of, balance = balance_, size = image_size_, noise = noise_,
                  lesion_scale = lesion_scale_](at::Generator& gen) {
    FundusSpec spec;
    spec.image_size = size;
    spec.grade = draw_fundus_grade(gen, balance);
    spec.noise = noise;
    spec.lesion_scale = lesion_scale;
    PhantomSample sample;
    sample.image = render_fundus(spec, gen, &sample.mask);
    sample.label = label_of(spec.grade);
    return sample;
  };
  return phantom_source(ctx, "phantom-fundus", {count_, 3, image_size_}, "fundus", class_names, std::nullopt,
                        std::move(drawing));
}

}  // namespace medadv::plugins::phantom
