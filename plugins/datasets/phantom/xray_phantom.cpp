// The phantom-xray generator and its dataset plugin class.
#include "xray_phantom.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "medadv/error.h"
#include "phantom_set.h"
#include "phantom_xray.h"

namespace medadv::plugins::phantom {

namespace {

// Layers of render_strokes.
constexpr std::int64_t kPosteriorRib = 0, kAnteriorRib = 1, kClavicle = 2, kAirway = 3, kVessel = 4,
                       kXrayStrokeLayers = 5;

// Density of each stroke layer at full strength (the airway removes density).
constexpr double kRibDensity = 0.2, kAnteriorRibDensity = 0.08, kClavicleDensity = 0.35, kAirwayDensity = -0.3,
                 kVesselDensity = 0.14;

// A lung field: an ellipse cut by the diaphragm below and the mediastinum medially.
struct Lung {
  double side;                // -1: the patient's right (image left); +1: the patient's left
  double cx, cy, rx, ry;      // the ellipse
  double base, dome, dome_x;  // diaphragm: y = base - dome * max(0, 1 - ((x - dome_x) / rx)^2)
  double medial;              // the mediastinum's edge: side * x >= medial
};

double vmin(double a, double b) { return std::min(a, b); }
torch::Tensor vmin(const torch::Tensor& a, const torch::Tensor& b) { return torch::minimum(a, b); }
double vsqrt(double a) { return std::sqrt(a); }
torch::Tensor vsqrt(const torch::Tensor& a) { return torch::sqrt(a); }
double clamp01(double a) { return std::clamp(a, 0.0, 1.0); }
torch::Tensor clamp01(const torch::Tensor& a) { return a.clamp(0.0, 1.0); }

// How far inside the lung field a point lies (normalised units, negative outside), for
// one point or for every pixel: one formula, so the sites drawn for opacities and the
// rendered field agree.
template <class T>
T lung_margin(const Lung& l, const T& x, const T& y) {
  const T u = (x - l.cx) / l.rx;
  const T v = (y - l.cy) / l.ry;
  const T ellipse = (1.0 - vsqrt(u * u + v * v)) * std::min(l.rx, l.ry);
  const T w = (x - l.dome_x) / l.rx;
  const T diaphragm = (l.base - l.dome * clamp01(1.0 - w * w)) - y;
  const T medial = x * l.side - l.medial;
  return vmin(ellipse, vmin(diaphragm, medial));
}

// How gradually the neck widens into the shoulders (normalised units).
constexpr double kShoulderSlope = 0.08;

struct Thorax {
  double neck_w, chest_w, shoulder_y;  // half-widths of the body and where the shoulders are
  Lung lungs[2];                       // the patient's right, then left
  Ellipse heart;
  double mediastinum_w;
  Point knob;  // the aortic knob
  double knob_r;
  Ellipse gastric_bubble;  // air in the stomach under the left dome (amplitude 0: none)
  double spine_w, vertebra, vertebra_phase;
  double carina_y;
};

// The body's half-width at height y: the neck above the shoulders, the chest below.
double body_half_width(const Thorax& t, double y) {
  return t.neck_w + (t.chest_w - t.neck_w) / (1 + std::exp(-(y - t.shoulder_y) / kShoulderSlope));
}

Thorax draw_thorax(Sampler& rng) {
  Thorax t{};
  t.neck_w = rng.uniform(0.2, 0.26);
  t.chest_w = rng.uniform(0.86, 0.96);
  t.shoulder_y = rng.uniform(-0.86, -0.76);
  const double top = rng.uniform(-0.74, -0.64), base = rng.uniform(0.4, 0.5);
  const double width = rng.uniform(0.3, 0.35);
  for (int i = 0; i < 2; ++i) {
    Lung& l = t.lungs[i];
    l.side = i == 0 ? -1.0 : 1.0;
    l.rx = width * rng.uniform(0.95, 1.05);
    l.cx = l.side * (rng.uniform(0.1, 0.12) + l.rx);
    const double apex = top + rng.uniform(-0.03, 0.03);
    l.base = base + rng.uniform(-0.02, 0.02) - (i == 0 ? 0.05 : 0.0);  // the liver lifts the right dome
    l.ry = (l.base - apex) * rng.uniform(0.6, 0.68);
    l.cy = apex + l.ry;
    l.dome = rng.uniform(0.1, 0.17);
    l.dome_x = l.cx - l.side * 0.03;
    l.medial = rng.uniform(0.07, 0.1);
  }
  Ellipse& h = t.heart;
  h.rx = rng.uniform(0.3, 0.37);
  h.ry = rng.uniform(0.2, 0.25);
  h.cx = rng.uniform(0.1, 0.16);
  h.cy = t.lungs[1].base - h.ry * rng.uniform(0.85, 1.0);
  h.angle = rng.uniform(0.2, 0.45);  // the apex points down and to the patient's left
  h.edge = 0.03;
  h.amplitude = 1;
  t.mediastinum_w = rng.uniform(0.09, 0.12);
  t.knob = Point{rng.uniform(0.1, 0.14), rng.uniform(-0.4, -0.32)};
  t.knob_r = rng.uniform(0.06, 0.08);
  t.spine_w = rng.uniform(0.055, 0.07);
  t.vertebra = rng.uniform(0.095, 0.11);
  t.vertebra_phase = rng.uniform();
  t.carina_y = rng.uniform(-0.3, -0.22);
  const Lung& left = t.lungs[1];
  const double bubble_rx = rng.uniform(0.06, 0.1);
  t.gastric_bubble = Ellipse{left.cx + rng.uniform(-0.05, 0.08), left.base + rng.uniform(0.03, 0.08), bubble_rx,
                             bubble_rx * rng.uniform(0.5, 0.8), rng.normal(0, 0.2), 0.03,
                             rng.chance(0.6) ? rng.uniform(0.5, 1.0) : 0.0, 0};
  return t;
}

Stroke polyline(const std::vector<Point>& points, double width, std::int64_t layer) {
  Stroke s;
  s.points = points;
  s.widths.assign(points.size(), width);
  s.layer = layer;
  return s;
}

// Ribs (posterior arcs from the spine bending down around the lung, anterior ones
// sloping down towards the sternum), clavicles, trachea and main bronchi, and vascular
// markings branching from the hila. In the patient's frame.
std::vector<Stroke> thorax_strokes(Sampler& rng, const Thorax& t) {
  std::vector<Stroke> out;
  const double spacing = rng.uniform(0.112, 0.125), first = rng.uniform(-0.86, -0.8);
  const double rib_w = 0.3 * spacing;
  for (const Lung& l : t.lungs) {
    const double s = l.side;
    for (int k = 0; k < 11; ++k) {
      const double y0 = first + k * spacing + rng.uniform(-0.01, 0.01);
      const double droop = rng.uniform(0.14, 0.2);
      // Wrap around the lung just outside its widest extent at the rib's height.
      const double yq = y0 + 0.7 * droop, v = (yq - l.cy) / l.ry;
      const double lateral = std::abs(l.cx) + l.rx * std::sqrt(std::max(0.05, 1 - v * v)) + 0.05;
      const double x0 = 0.7 * t.spine_w;
      std::vector<Point> pts;
      std::vector<double> widths;
      constexpr int kSteps = 24;
      for (int j = 0; j <= kSteps; ++j) {
        const double u = static_cast<double>(j) / kSteps;
        const Point p{s * (x0 + u * (lateral - x0)), y0 - 0.05 * std::sin(kPi * u) + droop * u * u};
        if (std::abs(p.x) > body_half_width(t, p.y)) break;
        pts.push_back(p);
        widths.push_back(rib_w * (0.8 + 0.4 * u));
      }
      if (pts.size() < 2) continue;
      Stroke rib = polyline(pts, rib_w, kPosteriorRib);
      rib.widths = widths;
      out.push_back(rib);
      if (k < 7 && pts.size() == kSteps + 1) {  // the anterior end of the same rib
        const Point end = pts.back();
        std::vector<Point> front;
        for (int j = 0; j <= 12; ++j) {
          const double u = j / 12.0;
          front.push_back(Point{s * (std::abs(end.x) - u * (std::abs(end.x) - 0.22)), end.y + 0.24 * u});
        }
        out.push_back(polyline(front, 1.1 * rib_w, kAnteriorRib));
      }
    }
    // Clavicle: from the sternum outwards and slightly up, a gentle S.
    const double cy = rng.uniform(-0.74, -0.66), rise = rng.uniform(0.02, 0.08), reach = rng.uniform(0.55, 0.65);
    std::vector<Point> clav;
    for (int j = 0; j <= 16; ++j) {
      const double u = j / 16.0;
      clav.push_back(Point{s * (0.07 + u * (reach - 0.07)), cy - rise * u + 0.02 * std::sin(2 * kPi * u)});
    }
    out.push_back(polyline(clav, rng.uniform(0.038, 0.048), kClavicle));
    // Main bronchus (the right one steeper) and the vessels of this hilum.
    const Point carina{0, t.carina_y};
    const Point hilum{s * rng.uniform(0.16, 0.21), t.carina_y + (s < 0 ? 0.17 : 0.12)};
    out.push_back(polyline({carina, hilum}, 0.035, kAirway));
    auto outside = [&l](const Point& p) { return lung_margin(l, p.x, p.y) < -0.01; };
    const auto vessels = rng.integer(6, 9);
    for (std::int64_t v = 0; v < vessels; ++v) {
      Walk w;
      w.start = Point{hilum.x + rng.normal(0, 0.02), hilum.y + rng.uniform(-0.08, 0.08)};
      w.heading = (s > 0 ? 0.0 : kPi) + s * rng.uniform(-1.2, 1.2);
      w.length = rng.uniform(0.3, 0.55);
      w.step = 0.025;
      w.turn = rng.uniform(-0.8, 0.8);
      w.wiggle = 0.6;
      w.width0 = rng.uniform(0.018, 0.026);
      w.width1 = 0.004;
      w.layer = kVessel;
      Stroke vessel = random_walk(rng, w, outside);
      if (vessel.points.size() < 2) continue;
      if (vessel.points.size() > 6) {  // one side branch
        const auto i = vessel.points.size() / 2;
        Walk b = w;
        b.start = vessel.points[i];
        b.heading = vessel.heading(i) + (rng.chance(0.5) ? 1 : -1) * rng.uniform(0.4, 0.9);
        b.length = 0.5 * w.length;
        b.width0 = vessel.widths[i] * 0.7;
        out.push_back(random_walk(rng, b, outside));
      }
      out.push_back(vessel);
    }
  }
  const Point carina{0, t.carina_y};
  out.push_back(polyline({Point{0, -1.1}, carina}, 0.06, kAirway));  // trachea
  return out;
}

// Is (x, y) inside the heart shadow (elliptic radius below `rho`)?
bool in_heart(const Ellipse& h, double x, double y, double rho) {
  const double c = std::cos(h.angle), s = std::sin(h.angle);
  const double u = ((x - h.cx) * c + (y - h.cy) * s) / h.rx, v = ((y - h.cy) * c - (x - h.cx) * s) / h.ry;
  return u * u + v * v < rho * rho;
}

// A site for an opacity in lung `l`, at least `depth` inside it and clear of the heart,
// between heights y_from and the diaphragm.
Point opacity_site(Sampler& rng, const Thorax& t, const Lung& l, double y_from, double depth) {
  for (int attempt = 0; attempt < 48; ++attempt) {
    const Point p{rng.uniform(l.cx - l.rx, l.cx + l.rx), rng.uniform(y_from, l.base)};
    if (lung_margin(l, p.x, p.y) < depth || in_heart(t.heart, p.x, p.y, 1.15)) continue;
    return p;
  }
  return Point{l.cx, l.cy};  // the middle of the field: always inside, lateral of the heart
}

// Opacity blobs in the patient's frame: bacterial pneumonia as one or two lobar
// consolidations (clusters of large overlapping blobs, denser, one lung, mostly the
// lower zones of the right), viral as many small blobs in both lungs around the hila
// and lower zones.
std::vector<Ellipse> opacity_blobs(Sampler& rng, const Thorax& t, XrayFinding finding, double scale) {
  std::vector<Ellipse> blobs;
  if (finding == XrayFinding::BacterialPneumonia) {
    const Lung& l = t.lungs[rng.chance(0.6) ? 0 : 1];
    const auto clusters = rng.chance(0.3) ? 2 : 1;
    for (int c = 0; c < clusters; ++c) {
      const Point centre = opacity_site(rng, t, l, l.cy - 0.3 * l.ry, 0.06);
      const auto n = rng.integer(4, 7);
      for (std::int64_t k = 0; k < n; ++k) {
        const double rx = rng.uniform(0.06, 0.12) * scale;
        blobs.push_back(Ellipse{centre.x + rng.normal(0, 0.05 * scale), centre.y + rng.normal(0, 0.05 * scale), rx,
                                rx * rng.uniform(0.6, 1.0), rng.uniform(0, kPi), 0.6 * rx, rng.uniform(0.7, 1.0), 0});
      }
    }
  } else if (finding == XrayFinding::ViralPneumonia) {
    const auto n = rng.integer(10, 20);
    for (std::int64_t k = 0; k < n; ++k) {
      const Lung& l = t.lungs[rng.chance(0.5) ? 0 : 1];
      const Point p = opacity_site(rng, t, l, l.cy - 0.45 * l.ry, 0.03);
      // Pulled towards the hilum: perihilar.
      const double pull = rng.uniform(0, 0.35);
      const Point q{p.x + pull * (l.side * 0.2 - p.x), p.y + pull * (t.carina_y + 0.15 - p.y)};
      const Point site = lung_margin(l, q.x, q.y) > 0.03 && !in_heart(t.heart, q.x, q.y, 1.15) ? q : p;
      const double rx = rng.uniform(0.045, 0.09) * scale;
      blobs.push_back(Ellipse{site.x, site.y, rx, rx * rng.uniform(0.6, 1.0), rng.uniform(0, kPi), 0.6 * rx,
                              rng.uniform(0.55, 0.9), 0});
    }
  }
  return blobs;
}

}  // namespace

XrayFinding draw_xray_finding(at::Generator& gen, double balance) {
  const CaseDraw c = draw_case(gen, balance);
  if (!c.abnormal) return XrayFinding::Normal;
  return c.subtype < 0.5 ? XrayFinding::BacterialPneumonia : XrayFinding::ViralPneumonia;
}

torch::Tensor render_xray(const XraySpec& spec, at::Generator& gen, torch::Tensor* lungs, XrayLayout* layout) {
  TORCH_CHECK(spec.image_size >= 8, "render_xray: image_size too small");
  TORCH_CHECK(spec.lesion_scale > 0 && spec.opacity >= 0 && spec.aeration >= 0 && spec.zoom >= 1,
              "render_xray: lesion_scale must be > 0, opacity and aeration >= 0, zoom >= 1");
  const auto S = spec.image_size;
  const Canvas image = Canvas::make(S, S);
  Sampler rng(gen);

  // The patient: off centre a little, tilted, larger or smaller.
  Pose pose{rng.uniform(-0.05, 0.05), rng.uniform(-0.03, 0.06), rng.normal(0, 0.03), rng.uniform(0.93, 1.04)};
  if (spec.zoom > 1) {
    // A close view: magnified about a random point of the chest and turned, so that no
    // landmark keeps its place in the image. Drawn only here, so that at zoom 1 the images
    // (and every figure measured on them) stay as they were before zoom existed.
    pose.scale *= spec.zoom * rng.uniform(0.8, 1.2);
    pose.x = rng.uniform(-0.7, 0.7) * (spec.zoom - 1);
    pose.y = rng.uniform(-0.5, 0.5) * (spec.zoom - 1);
    pose.angle = rng.normal(0, 0.3);
  }
  const Canvas cv = pose.local(image);
  const Thorax t = draw_thorax(rng);
  const auto& x = cv.x;
  const auto& y = cv.y;
  auto ax = x.abs();

  // Soft tissue: thickest at the midline, falling off towards the sides.
  auto neck = torch::full_like(y, t.neck_w);
  auto half_width = neck + (t.chest_w - t.neck_w) * torch::sigmoid((y - t.shoulder_y) / kShoulderSlope);
  auto thickness = torch::sqrt((1 - (x / half_width).pow(2)).clamp_min(0.0));
  auto density = thickness * rng.uniform(1.05, 1.25);

  // Lungs: air, most of it in the middle of each field; less behind the heart.
  torch::Tensor heart_rho;
  auto heart = soft_ellipse(cv, t.heart, &heart_rho);
  auto lung = torch::zeros_like(x), air = torch::zeros_like(x);
  for (const Lung& l : t.lungs) {
    auto margin = lung_margin(l, x, y);
    auto field = (margin / std::max(0.02, cv.pixel) + 0.5).clamp(0.0, 1.0);
    lung = torch::maximum(lung, field);
    air = air + field * (0.5 + 0.5 * (margin / 0.12).clamp(0.0, 1.0));
  }
  density = density - rng.uniform(0.8, 0.95) * spec.aeration * air * (1 - 0.85 * heart);

  // Below the domes: liver and stomach (with its air bubble under the left dome).
  auto dome = [&x](const Lung& l) {
    auto w = (x - l.dome_x) / l.rx;
    return l.base - l.dome * (1 - w * w).clamp(0.0, 1.0);
  };
  auto diaphragm = torch::where(x < 0, dome(t.lungs[0]), dome(t.lungs[1]));
  density = density + rng.uniform(0.3, 0.4) * ((y - diaphragm) / 0.08).clamp(0.0, 1.0) * thickness;
  if (t.gastric_bubble.amplitude > 0) density = density - 0.4 * soft_ellipse(cv, t.gastric_bubble);

  // Heart, upper mediastinum with the aortic knob, spine with its vertebrae.
  density = density + rng.uniform(0.35, 0.5) * heart * (0.6 + 0.4 * torch::sqrt((1 - heart_rho.pow(2)).clamp_min(0.0)));
  auto above_heart = ((t.heart.cy - y) / 0.1 + 0.5).clamp(0.0, 1.0);
  auto mediastinum = ((t.mediastinum_w - ax) / 0.03 + 0.5).clamp(0.0, 1.0) * above_heart;
  mediastinum = torch::maximum(mediastinum, soft_disc(cv, t.knob.x, t.knob.y, t.knob_r, 0.03));
  density = density + rng.uniform(0.5, 0.7) * mediastinum;
  auto column = ((t.spine_w - ax) / 0.02 + 0.5).clamp(0.0, 1.0);
  auto discs = ((torch::cos((y / t.vertebra + t.vertebra_phase) * (2 * kPi)) + 1) * 0.5).pow(6);
  density = density + rng.uniform(0.25, 0.35) * column * (1 - 0.35 * discs);

  // Bones, airways and vessels, drawn in the image's own pixel grid.
  std::vector<Stroke> strokes = thorax_strokes(rng, t);
  for (auto& s : strokes) s = pose.to_image(s);
  auto od = render_strokes(image, strokes, kXrayStrokeLayers);
  density = density + kRibDensity * od[kPosteriorRib] + kAnteriorRibDensity * od[kAnteriorRib] +
            kClavicleDensity * od[kClavicle] + kAirwayDensity * od[kAirway] + kVesselDensity * od[kVessel] * lung;

  // Pneumonia: blurred, mottled blobs confined to the visible lung fields (an opacity
  // stops at a field's border: the silhouette sign).
  auto lung_mask = (lung > 0.5) & (heart < 0.5);
  torch::Tensor opacity = torch::zeros_like(x);
  std::vector<Ellipse> blobs = opacity_blobs(rng, t, spec.finding, spec.lesion_scale);
  if (!blobs.empty()) {
    for (auto& b : blobs) b = pose.to_image(b);
    const bool viral = spec.finding == XrayFinding::ViralPneumonia;
    const double strength = (viral ? rng.uniform(0.8, 1.1) : rng.uniform(1.0, 1.4)) * spec.opacity;
    auto cover = paint_ellipses(image, blobs, 1)[0];
    cover = gaussian_blur(cover, (viral ? 0.03 : 0.035) * spec.lesion_scale / image.pixel);
    auto mottle = 0.75 + 0.25 * smooth_noise(image, gen, std::max<std::int64_t>(4, S / 10))[0];
    opacity = cover * mottle * lung_mask.to(torch::kFloat32) * strength;
    density = density + opacity;
  }

  // Exposure: the heel effect, film characteristic, window; then detector blur and
  // quantum-like noise.
  density = density.clamp_min(0.0) * (1 + rng.uniform(-0.08, 0.08) * image.y);
  auto img = 1 - torch::exp(-rng.uniform(1.0, 1.3) * density);
  const double floor = rng.uniform(0.02, 0.05);
  img = floor + (1 - floor) * img;
  const double gain = rng.uniform(0.92, 1.06), offset = rng.uniform(-0.03, 0.03), gamma = rng.uniform(0.85, 1.2);
  img = (img * gain + offset).clamp(0.0, 1.0).pow(gamma);
  img = gaussian_blur(img, rng.uniform(0.35, 0.65));
  if (spec.noise > 0)
    img = img + torch::randn({S, S}, gen, torch::TensorOptions().dtype(torch::kFloat32)) * (0.5 + img) * spec.noise;
  img = img.clamp(0.0, 1.0).unsqueeze(0);

  if (lungs) *lungs = lung_mask.to(torch::kFloat32).unsqueeze(0);
  if (layout) {
    layout->pose = pose;
    layout->heart = heart > 0.5;
    layout->spine = (column > 0.5) & (y < t.heart.cy - t.heart.ry) & (y > -0.9);
    layout->opacity = opacity;
    layout->patches = static_cast<std::int64_t>(blobs.size());
  }
  return img.contiguous();
}

// ---- The dataset plugin ------------------------------------------------------

void PhantomXray::schema(medadv::ParamSchema& s) {
  s.add_int("image_size", 64, "side of the square images, in pixels").min(16).max(1024);
  s.add_int("count", 600, "number of images (drawn when read: any count costs no memory)").min(2).max(10000000);
  s.add_int("classes", 2,
            "2: normal / pneumonia; 3: normal, bacterial pneumonia (lobar consolidation, one lung), viral "
            "pneumonia (small patchy opacities in both lungs); the same images either way")
      .min(2)
      .max(3);
  s.add_float("noise", 0.02,
              "quantum-like noise: its standard deviation at mid grey (intensities in [0,1]); brighter, denser "
              "regions get more")
      .min(0)
      .max(0.5);
  s.add_float("balance", 0.5, "fraction of images with pneumonia; bacterial and viral equally likely among them")
      .min(0)
      .max(1);
  s.add_float("lesion_scale", 1.0, "multiplies the size of every opacity; smaller makes the task harder")
      .min_exclusive(0)
      .max(4);
  s.add_float("opacity", 1.0, "multiplies the density of every opacity; smaller makes the task harder")
      .min_exclusive(0)
      .max(3);
  s.add_float("aeration", 1.0,
              "multiplies the air in the lung fields: smaller makes them less dark against the soft tissue, "
              "ribs and heart (underinflated or obscured lungs), the lung-field borders less salient")
      .min_exclusive(0)
      .max(1.5);
  s.add_float("zoom", 1.0,
              "1: the whole chest, centred; above 1: each image a close view of a random part of it, magnified by "
              "zoom (times 0.8-1.2), shifted and turned at random (sd 0.3 rad), so the anatomy has no fixed "
              "layout in the image; some pneumonia images then show none of their opacities (about 15% at zoom 2, "
              "25% at 3), labels the image cannot support")
      .min(1)
      .max(4);
  s.add_enum<medadv::Task>("task", task_names(), medadv::Task::Classification,
             "classification: labels are the diagnosis (masks hold the lung fields too); segmentation: the "
             "target is the lung-field masks [N,1,H,W] (the heart shadow excluded), no labels");
}

PhantomXray::PhantomXray(const medadv::Params& p, medadv::RunContext& /*ctx*/)
    : image_size_(p.get_int("image_size")),
      count_(p.get_int("count")),
      classes_(p.get_int("classes")),
      noise_(p.get_float("noise")),
      balance_(p.get_float("balance")),
      lesion_scale_(p.get_float("lesion_scale")),
      opacity_(p.get_float("opacity")),
      aeration_(p.get_float("aeration")),
      zoom_(p.get_float("zoom")),
      segmentation_(p.get_enum<medadv::Task>("task") == medadv::Task::Segmentation) {}

std::shared_ptr<medadv::DataSource> PhantomXray::open(medadv::RunContext& ctx) {
  const auto diagnoses = classes_ == 2 ? std::vector<std::string>{"normal", "pneumonia"}
                                       : std::vector<std::string>{"normal", "bacterial pneumonia", "viral pneumonia"};
  const auto label_of = [classes = classes_](XrayFinding finding) -> std::int64_t {
    const auto f = static_cast<std::int64_t>(finding);
    return classes == 2 ? (f > 0 ? 1 : 0) : f;
  };
  PhantomDrawing drawing;
  drawing.label = [label_of, balance = balance_](at::Generator& gen) { return label_of(draw_xray_finding(gen, balance)); };
  drawing.draw = [label_of, balance = balance_, size = image_size_, noise = noise_, lesion_scale = lesion_scale_,
                  opacity = opacity_, aeration = aeration_, zoom = zoom_](at::Generator& gen) {
    XraySpec spec;
    spec.image_size = size;
    spec.finding = draw_xray_finding(gen, balance);
    spec.noise = noise;
    spec.lesion_scale = lesion_scale;
    spec.opacity = opacity;
    spec.aeration = aeration;
    spec.zoom = zoom;
    PhantomSample sample;
    sample.image = render_xray(spec, gen, &sample.mask);
    sample.label = label_of(spec.finding);
    return sample;
  };
  return phantom_source(ctx, "phantom-xray", {count_, 1, image_size_}, "x-ray", diagnoses,
                        segmentation_ ? std::optional<std::string>("lung") : std::nullopt, std::move(drawing));
}

}  // namespace medadv::plugins::phantom
