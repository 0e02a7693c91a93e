#pragma once
// Drawing primitives shared by the procedural phantoms of this library (phantom-fundus,
// phantom-xray, phantom-derm). Everything works on whole images with tensor operations:
// loops run over shapes (strokes, ellipses), never over pixels.
//
// Coordinates are normalised: the shorter image side spans [-1, 1], x grows to the
// right and y downwards, (0, 0) is the image centre. Sizes given in normalised units
// therefore scale with the image, so one seed draws the same picture at any resolution.
#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

namespace medadv::plugins::phantom {

inline constexpr double kPi = 3.14159265358979323846;

// The pixel grid of one image.
struct Canvas {
  std::int64_t height = 0;
  std::int64_t width = 0;
  double pixel = 0;  // the size of one pixel in normalised units
  torch::Tensor x;   // [H,W] float32: normalised x of each pixel centre
  torch::Tensor y;   // [H,W] float32: normalised y of each pixel centre

  static Canvas make(std::int64_t height, std::int64_t width);
  // Pixel coordinates (column, row; pixel centres at integers) of a normalised point.
  double column(double x) const { return x / pixel + 0.5 * static_cast<double>(width) - 0.5; }
  double row(double y) const { return y / pixel + 0.5 * static_cast<double>(height) - 0.5; }
  // Distance of every pixel centre from (cx, cy), [H,W].
  torch::Tensor distance(double cx, double cy) const;
};

// Scalar random draws for shape parameters. Takes uniforms from the generator in
// batches, so drawing hundreds of parameters costs a few tensor operations.
class Sampler {
 public:
  explicit Sampler(at::Generator& gen, std::int64_t batch = 512);
  double uniform();                                   // [0, 1)
  double uniform(double lo, double hi);               // [lo, hi)
  double normal(double mean = 0.0, double sd = 1.0);  // Box-Muller
  std::int64_t integer(std::int64_t lo, std::int64_t hi);  // lo..hi inclusive
  bool chance(double p);
  at::Generator& generator() { return gen_; }

 private:
  void refill();
  at::Generator& gen_;
  std::int64_t batch_;
  std::vector<double> buffer_;
  std::size_t next_ = 0;
};

struct RGB {
  double r = 0, g = 0, b = 0;
};
// [3,1,1] float32, broadcastable against [3,H,W].
torch::Tensor colour(const RGB& c);

// Soft-edged disc: 1 inside, 0 outside, a linear ramp `edge` wide (normalised units,
// at least one pixel is used) centred on the rim. [H,W]
torch::Tensor soft_disc(const Canvas& cv, double cx, double cy, double radius, double edge);

// exp(-d^2 / (2 sigma^2)) around (cx, cy). [H,W]
torch::Tensor gaussian_spot(const Canvas& cv, double cx, double cy, double sigma);

// A smooth random field in about [-1, 1]: uniform noise on a (cells+1)^2 lattice,
// upsampled bicubically. [channels,H,W]
torch::Tensor smooth_noise(const Canvas& cv, at::Generator& gen, std::int64_t cells,
                           std::int64_t channels = 1);

// Separable Gaussian blur over the last two dimensions ([H,W], [C,H,W], [N,C,H,W])
// with replicated borders; sigma in pixels (<= 0.05 returns the input). Built from
// elementwise operations only, so results do not depend on the thread count.
torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma_px);

// One filled ellipse of a batch painted by paint_ellipses.
struct Ellipse {
  double cx = 0, cy = 0;  // centre
  double rx = 0, ry = 0;  // semi-axes before rotation
  double angle = 0;       // rotation, radians
  double edge = 0;        // width of the soft rim (at least one pixel is used)
  double amplitude = 1;   // peak coverage painted (the footprint ignores it)
  std::int64_t layer = 0;
};

// One ellipse over the whole canvas (for large shapes, and on a Pose::local canvas):
// coverage [H,W] like paint_ellipses' (amplitude at the centre, soft rim `edge` wide),
// and optionally `rho`, each pixel's elliptic radius ([H,W], 1 on the outline).
torch::Tensor soft_ellipse(const Canvas& cv, const Ellipse& e, torch::Tensor* rho = nullptr);

// Paints ellipses into `layers` coverage maps, [layers,H,W]; overlapping ellipses of a
// layer add up and are clipped to 1. Each ellipse is evaluated only in a window
// around it, all windows in one batch. When `footprint` is given it receives [H,W]
// bool: the pixels whose centre lies inside any ellipse, with semi-axes widened to at
// least 0.75 pixel so that every ellipse marks at least one pixel.
torch::Tensor paint_ellipses(const Canvas& cv, const std::vector<Ellipse>& ellipses,
                             std::int64_t layers, torch::Tensor* footprint = nullptr);

struct Point {
  double x = 0, y = 0;
};

// A curve (vessel, fibre, crack) with a width at each vertex (normalised units).
struct Stroke {
  std::vector<Point> points;
  std::vector<double> widths;
  double strength = 1;  // peak optical density of a stroke wide enough to resolve
  std::int64_t layer = 0;

  // Heading (radians) of the segment that ends at vertex i (the first one for i = 0).
  double heading(std::size_t i) const;
};

// A curved random walk: `length` long in steps of `step`, turning by `turn` radians per
// unit length plus Gaussian wiggle (`wiggle` radians per sqrt unit), the width tapering
// linearly from width0 to width1. Stops before the first vertex for which `stop`
// returns true.
struct Walk {
  Point start;
  double heading = 0;
  double length = 0.5;
  double step = 0.02;
  double turn = 0;
  double wiggle = 0;
  double width0 = 0.01, width1 = 0.005;
  double strength = 1;
  std::int64_t layer = 0;
};
Stroke random_walk(Sampler& rng, const Walk& walk,
                   const std::function<bool(const Point&)>& stop = nullptr);

// Renders strokes with a Gaussian cross-section (standard deviation width / 2.5) whose
// peak is the stroke's strength, as optical density maps [layers,H,W]. Strokes thinner
// than a pixel come out fainter (partial volume), crossings add up. The strokes are
// resampled every half pixel and splatted bilinearly; one blur per width band.
torch::Tensor render_strokes(const Canvas& cv, const std::vector<Stroke>& strokes, std::int64_t layers);

// image * (1 - alpha) + target * alpha, alpha [H,W] or [1,H,W], target [3,1,1] or [3,H,W].
torch::Tensor blend(const torch::Tensor& image, const torch::Tensor& alpha, const torch::Tensor& target);

// A star-shaped region (a lesion, a blot) around (cx, cy): at angle t its boundary lies at
// radius * (1 + sum_k amplitude[k-1] * cos(k t + phase[k-1])), never below 0.2 * radius.
// Low harmonics make it oval (k = 2) or lopsided (k = 1, 3); high ones make the border
// ragged.
struct StarShape {
  double cx = 0, cy = 0;
  double radius = 0;
  std::vector<double> amplitude;  // of harmonic k = 1, 2, ...
  std::vector<double> phase;      // same length as amplitude

  double boundary(double angle) const;  // the boundary's distance from the centre
};

// Soft coverage of a star shape, [H,W]: 1 inside, 0 outside, a linear ramp `edge` wide
// (at least one pixel is used) across the boundary. `ratio` (optional) receives each
// pixel's distance from the centre over the boundary's distance in its direction
// ([H,W], 1 on the boundary), for shading from the centre to the rim.
torch::Tensor star_coverage(const Canvas& cv, const StarShape& shape, double edge, torch::Tensor* ratio = nullptr);

// Where an object (a patient, a lesion) lies in the image: its own frame rotated by
// `angle` (radians, from +x towards +y), scaled by `scale` and moved to (x, y).
struct Pose {
  double x = 0, y = 0;
  double angle = 0;
  double scale = 1;

  Point to_image(const Point& local) const;
  Stroke to_image(Stroke local) const;    // vertices and widths
  Ellipse to_image(Ellipse local) const;  // centre, semi-axes, rim and angle
  // The image's pixels with their coordinates in the object's frame (`pixel` scaled
  // alike), for drawing fields (soft_disc, gaussian_spot, ...) in that frame. Strokes
  // and ellipses are drawn on the image's own canvas after to_image().
  Canvas local(const Canvas& image) const;
};

// The case of one image, drawn from its own generator before rendering: abnormal with
// probability `balance`; `subtype` is a uniform in [0, 1) that picks among the kinds of
// abnormal (or normal) images.
struct CaseDraw {
  bool abnormal = false;
  double subtype = 0;
};
CaseDraw draw_case(at::Generator& gen, double balance);

}  // namespace medadv::plugins::phantom
