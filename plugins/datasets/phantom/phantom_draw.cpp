#include "phantom_draw.h"

#include <algorithm>
#include <cmath>

namespace medadv::plugins::phantom {

namespace F = torch::nn::functional;

namespace {

// Normalised Gaussian taps exp(-k^2 / (2 sigma^2)), k = -radius..radius.
std::vector<float> gaussian_taps(double sigma, std::int64_t radius) {
  std::vector<float> taps(static_cast<std::size_t>(2 * radius + 1));
  double total = 0;
  for (std::int64_t k = -radius; k <= radius; ++k) {
    const double v = std::exp(-0.5 * static_cast<double>(k * k) / (sigma * sigma));
    taps[static_cast<std::size_t>(k + radius)] = static_cast<float>(v);
    total += v;
  }
  for (auto& t : taps) t = static_cast<float>(t / total);
  return taps;
}

torch::Tensor float_tensor(const std::vector<float>& v) {
  return torch::tensor(v, torch::kFloat32);
}

torch::Tensor long_tensor(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::kInt64);
}

}  // namespace

// ---- Canvas -----------------------------------------------------------------

Canvas Canvas::make(std::int64_t height, std::int64_t width) {
  TORCH_CHECK(height > 0 && width > 0, "Canvas::make: empty image");
  Canvas cv;
  cv.height = height;
  cv.width = width;
  cv.pixel = 2.0 / static_cast<double>(std::min(height, width));
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto xs = (torch::arange(width, opts) + (0.5 - 0.5 * static_cast<double>(width))) * cv.pixel;
  auto ys = (torch::arange(height, opts) + (0.5 - 0.5 * static_cast<double>(height))) * cv.pixel;
  cv.x = xs.view({1, width}).expand({height, width});
  cv.y = ys.view({height, 1}).expand({height, width});
  return cv;
}

torch::Tensor Canvas::distance(double cx, double cy) const {
  auto dx = x - cx;
  auto dy = y - cy;
  return torch::sqrt(dx * dx + dy * dy);
}

// ---- Sampler ----------------------------------------------------------------

Sampler::Sampler(at::Generator& gen, std::int64_t batch) : gen_(gen), batch_(std::max<std::int64_t>(batch, 1)) {}

void Sampler::refill() {
  auto t = torch::rand({batch_}, gen_, torch::TensorOptions().dtype(torch::kFloat64));
  const double* p = t.data_ptr<double>();
  buffer_.assign(p, p + batch_);
  next_ = 0;
}

double Sampler::uniform() {
  if (next_ >= buffer_.size()) refill();
  return buffer_[next_++];
}

double Sampler::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Sampler::normal(double mean, double sd) {
  const double u1 = std::max(uniform(), 1e-300);
  const double u2 = uniform();
  return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

std::int64_t Sampler::integer(std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  const auto span = hi - lo + 1;
  const auto k = static_cast<std::int64_t>(uniform() * static_cast<double>(span));
  return lo + std::min(k, span - 1);
}

bool Sampler::chance(double p) { return uniform() < p; }

// ---- Simple shapes ----------------------------------------------------------

torch::Tensor colour(const RGB& c) {
  return torch::tensor({static_cast<float>(c.r), static_cast<float>(c.g), static_cast<float>(c.b)},
                       torch::kFloat32)
      .view({3, 1, 1});
}

torch::Tensor soft_disc(const Canvas& cv, double cx, double cy, double radius, double edge) {
  const double e = std::max(edge, cv.pixel);
  return ((radius - cv.distance(cx, cy)) / e + 0.5).clamp(0.0, 1.0);
}

torch::Tensor gaussian_spot(const Canvas& cv, double cx, double cy, double sigma) {
  auto dx = cv.x - cx;
  auto dy = cv.y - cy;
  return torch::exp((dx * dx + dy * dy) * (-0.5 / (sigma * sigma)));
}

torch::Tensor smooth_noise(const Canvas& cv, at::Generator& gen, std::int64_t cells, std::int64_t channels) {
  cells = std::max<std::int64_t>(cells, 1);
  auto lattice = torch::rand({1, channels, cells + 1, cells + 1}, gen, torch::TensorOptions().dtype(torch::kFloat32)) * 2 - 1;
  auto up = F::interpolate(lattice, F::InterpolateFuncOptions()
                                        .size(std::vector<std::int64_t>{cv.height, cv.width})
                                        .mode(torch::kBicubic)
                                        .align_corners(true));
  return up[0];
}

namespace {
// One axis of a separable filter as a sum of shifted copies: plain elementwise
// operations, so the result never depends on the number of threads.
torch::Tensor filter_axis(const torch::Tensor& x, const std::vector<float>& taps, std::int64_t dim, bool replicate) {
  const auto radius = static_cast<std::int64_t>(taps.size() / 2);
  const auto n = x.size(dim);
  torch::Tensor padded;
  if (replicate) {
    auto index = torch::arange(-radius, n + radius, torch::kInt64).clamp(0, n - 1);
    padded = x.index_select(dim, index);
  } else {
    std::vector<std::int64_t> pad(static_cast<std::size_t>(2 * x.dim()), 0);
    const auto slot = static_cast<std::size_t>(2 * (x.dim() - 1 - dim));  // pad lists the last dimension first
    pad[slot] = radius;
    pad[slot + 1] = radius;
    padded = torch::constant_pad_nd(x, pad, 0);
  }
  auto out = padded.narrow(dim, 0, n) * taps[0];
  for (std::size_t k = 1; k < taps.size(); ++k) out.add_(padded.narrow(dim, static_cast<std::int64_t>(k), n), taps[k]);
  return out;
}

torch::Tensor separable_gaussian(const torch::Tensor& image, double sigma_px, bool replicate) {
  const auto radius = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(3.0 * sigma_px)));
  const auto taps = gaussian_taps(sigma_px, radius);
  const auto d = image.dim();
  return filter_axis(filter_axis(image, taps, d - 1, replicate), taps, d - 2, replicate);
}
}  // namespace

torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma_px) {
  if (sigma_px <= 0.05) return image;
  TORCH_CHECK(image.dim() >= 2, "gaussian_blur: expected [..., H, W]");
  return separable_gaussian(image, sigma_px, /*replicate=*/true);
}

torch::Tensor blend(const torch::Tensor& image, const torch::Tensor& alpha, const torch::Tensor& target) {
  return image + (target - image) * alpha;
}

// ---- Star shapes --------------------------------------------------------------

double StarShape::boundary(double angle) const {
  double f = 1;
  for (std::size_t k = 0; k < amplitude.size(); ++k)
    f += amplitude[k] * std::cos(static_cast<double>(k + 1) * angle + phase[k]);
  return radius * std::max(f, 0.2);
}

torch::Tensor star_coverage(const Canvas& cv, const StarShape& shape, double edge, torch::Tensor* ratio) {
  TORCH_CHECK(shape.amplitude.size() == shape.phase.size(), "star_coverage: one phase per amplitude");
  TORCH_CHECK(shape.radius > 0, "star_coverage: radius must be > 0");
  auto dx = cv.x - shape.cx, dy = cv.y - shape.cy;
  auto distance = torch::sqrt(dx * dx + dy * dy);
  auto boundary = torch::full({cv.height, cv.width}, static_cast<float>(shape.radius), torch::kFloat32);
  if (!shape.amplitude.empty()) {
    // cos(k t) and sin(k t) by the angle-addition recurrence from cos t and sin t: a few
    // image-sized operations per harmonic, no [K,H,W] temporaries.
    auto safe = distance.clamp_min(1e-12);
    auto c1 = torch::where(distance > 0, dx / safe, torch::ones_like(dx));
    auto s1 = dy / safe;
    auto ck = c1, sk = s1;
    auto f = torch::ones_like(distance);
    for (std::size_t k = 0; k < shape.amplitude.size(); ++k) {
      if (k > 0) {
        auto next_c = ck * c1 - sk * s1;
        sk = sk * c1 + ck * s1;
        ck = next_c;
      }
      const double a = shape.amplitude[k];
      if (a == 0) continue;
      f.add_(ck, a * std::cos(shape.phase[k])).add_(sk, -a * std::sin(shape.phase[k]));
    }
    boundary = f.clamp_min(0.2) * shape.radius;
  }
  if (ratio) *ratio = distance / boundary;
  return ((boundary - distance) / std::max(edge, cv.pixel) + 0.5).clamp(0.0, 1.0);
}

// ---- Poses ------------------------------------------------------------------

Point Pose::to_image(const Point& p) const {
  const double c = std::cos(angle), s = std::sin(angle);
  return Point{x + scale * (c * p.x - s * p.y), y + scale * (s * p.x + c * p.y)};
}

Stroke Pose::to_image(Stroke local) const {
  for (auto& p : local.points) p = to_image(p);
  for (auto& w : local.widths) w *= scale;
  return local;
}

Ellipse Pose::to_image(Ellipse e) const {
  const Point c = to_image(Point{e.cx, e.cy});
  e.cx = c.x;
  e.cy = c.y;
  e.rx *= scale;
  e.ry *= scale;
  e.edge *= scale;
  e.angle += angle;
  return e;
}

Canvas Pose::local(const Canvas& image) const {
  const double c = std::cos(angle), s = std::sin(angle);
  auto dx = image.x - x, dy = image.y - y;
  Canvas cv = image;
  cv.pixel = image.pixel / scale;
  cv.x = (dx * c + dy * s) / scale;
  cv.y = (dy * c - dx * s) / scale;
  return cv;
}

// ---- Cases ------------------------------------------------------------------

CaseDraw draw_case(at::Generator& gen, double balance) {
  auto u = torch::rand({2}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  const double* p = u.data_ptr<double>();
  return CaseDraw{p[0] < balance, p[1]};
}

// ---- Ellipses ---------------------------------------------------------------

torch::Tensor soft_ellipse(const Canvas& cv, const Ellipse& e, torch::Tensor* rho) {
  TORCH_CHECK(e.rx > 0 && e.ry > 0, "soft_ellipse: semi-axes must be > 0");
  const double c = std::cos(e.angle), s = std::sin(e.angle);
  auto dx = cv.x - e.cx, dy = cv.y - e.cy;
  auto u = (dx * c + dy * s) / e.rx;
  auto v = (dy * c - dx * s) / e.ry;
  auto r = torch::sqrt(u * u + v * v);
  if (rho) *rho = r;
  const double edge = std::max(e.edge, cv.pixel);
  return (((1.0 - r) * std::min(e.rx, e.ry)) / edge + 0.5).clamp(0.0, 1.0) * e.amplitude;
}

torch::Tensor paint_ellipses(const Canvas& cv, const std::vector<Ellipse>& ellipses, std::int64_t layers,
                             torch::Tensor* footprint) {
  const auto H = cv.height, W = cv.width, HW = H * W;
  const double px = cv.pixel;
  auto coverage = torch::zeros({layers * HW}, torch::kFloat32);
  auto marked = torch::zeros({HW}, torch::kFloat32);

  // Footprint semi-axes, rims and window half-sizes (pixels) of every ellipse.
  struct Prepared {
    double cx, cy, fx, fy, cosa, sina, edge, amp, reach;
    std::int64_t layer, col, row;
  };
  std::vector<Prepared> prep;
  prep.reserve(ellipses.size());
  for (const auto& e : ellipses) {
    TORCH_CHECK(e.layer >= 0 && e.layer < layers, "paint_ellipses: layer out of range");
    Prepared p{};
    p.cx = e.cx;
    p.cy = e.cy;
    p.fx = std::max(e.rx, 0.75 * px);
    p.fy = std::max(e.ry, 0.75 * px);
    p.cosa = std::cos(e.angle);
    p.sina = std::sin(e.angle);
    p.edge = std::max(e.edge, px);
    // A sub-pixel ellipse is drawn with its footprint's shape and its own area.
    p.amp = e.amplitude * std::min(1.0, (std::max(e.rx, 0.0) * std::max(e.ry, 0.0)) / (p.fx * p.fy));
    p.reach = (std::max(p.fx, p.fy) + p.edge) / px + 1.0;
    p.layer = e.layer;
    p.col = static_cast<std::int64_t>(std::lround(cv.column(e.cx)));
    p.row = static_cast<std::int64_t>(std::lround(cv.row(e.cy)));
    // Entirely outside the image: nothing to paint.
    if (p.col + p.reach < 0 || p.col - p.reach >= W || p.row + p.reach < 0 || p.row - p.reach >= H) continue;
    prep.push_back(p);
  }
  // Similar sizes share a batch, so one large ellipse does not widen every window.
  std::sort(prep.begin(), prep.end(), [](const Prepared& a, const Prepared& b) { return a.reach < b.reach; });

  constexpr std::int64_t kMaxElements = std::int64_t{1} << 22;
  std::size_t begin = 0;
  while (begin < prep.size()) {
    std::size_t end = begin;
    std::int64_t half = 0;
    while (end < prep.size()) {
      const auto h = static_cast<std::int64_t>(std::ceil(prep[end].reach));
      const auto side = 2 * std::max(half, h) + 1;
      if (end > begin && static_cast<std::int64_t>(end - begin + 1) * side * side > kMaxElements) break;
      half = std::max(half, h);
      ++end;
    }
    const auto n = static_cast<std::int64_t>(end - begin);
    const auto side = 2 * half + 1;

    std::vector<float> cx(n), cy(n), fx(n), fy(n), ca(n), sa(n), edge(n), amp(n);
    std::vector<std::int64_t> col(n), row(n), layer(n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& p = prep[begin + static_cast<std::size_t>(i)];
      cx[i] = static_cast<float>(p.cx);
      cy[i] = static_cast<float>(p.cy);
      fx[i] = static_cast<float>(p.fx);
      fy[i] = static_cast<float>(p.fy);
      ca[i] = static_cast<float>(p.cosa);
      sa[i] = static_cast<float>(p.sina);
      edge[i] = static_cast<float>(p.edge);
      amp[i] = static_cast<float>(p.amp);
      col[i] = p.col;
      row[i] = p.row;
      layer[i] = p.layer;
    }
    auto v3 = [n](torch::Tensor t) { return t.view({n, 1, 1}); };
    auto offsets = torch::arange(-half, half + 1, torch::kInt64);
    auto cols = v3(long_tensor(col)) + offsets.view({1, 1, side});  // [n,1,side]
    auto rows = v3(long_tensor(row)) + offsets.view({1, side, 1});  // [n,side,1]
    auto xs = (cols.to(torch::kFloat32) + (0.5 - 0.5 * static_cast<double>(W))) * px;
    auto ys = (rows.to(torch::kFloat32) + (0.5 - 0.5 * static_cast<double>(H))) * px;
    auto dx = xs - v3(float_tensor(cx));
    auto dy = ys - v3(float_tensor(cy));
    auto c = v3(float_tensor(ca)), s = v3(float_tensor(sa));
    auto u = (dx * c + dy * s) / v3(float_tensor(fx));
    auto v = (dy * c - dx * s) / v3(float_tensor(fy));
    auto rho = torch::sqrt(u * u + v * v);  // [n,side,side]; 1 on the footprint's rim
    auto minor = torch::minimum(v3(float_tensor(fx)), v3(float_tensor(fy)));
    auto cover = (((1.0 - rho) * minor) / v3(float_tensor(edge)) + 0.5).clamp(0.0, 1.0) * v3(float_tensor(amp));
    auto valid = (cols >= 0) & (cols < W) & (rows >= 0) & (rows < H);  // [n,side,side]
    auto pixel_index = rows.clamp(0, H - 1) * W + cols.clamp(0, W - 1);
    auto validf = valid.to(torch::kFloat32);
    coverage.index_add_(0, (v3(long_tensor(layer)) * HW + pixel_index).reshape({-1}), (cover * validf).reshape({-1}));
    if (footprint) {
      auto inside = (rho <= 1.0).to(torch::kFloat32) * validf;
      marked.index_add_(0, pixel_index.expand({n, side, side}).reshape({-1}), inside.reshape({-1}));
    }
    begin = end;
  }
  if (footprint) *footprint = (marked > 0).view({H, W});
  return coverage.clamp_max_(1.0).view({layers, H, W});
}

// ---- Strokes ----------------------------------------------------------------

double Stroke::heading(std::size_t i) const {
  if (points.size() < 2) return 0;
  const std::size_t a = i == 0 ? 0 : std::min(i, points.size() - 1) - 1;
  return std::atan2(points[a + 1].y - points[a].y, points[a + 1].x - points[a].x);
}

Stroke random_walk(Sampler& rng, const Walk& walk, const std::function<bool(const Point&)>& stop) {
  Stroke s;
  s.strength = walk.strength;
  s.layer = walk.layer;
  const auto steps = std::max<std::int64_t>(1, std::llround(walk.length / walk.step));
  Point p = walk.start;
  double heading = walk.heading;
  s.points.push_back(p);
  s.widths.push_back(walk.width0);
  const double jitter = walk.wiggle * std::sqrt(walk.step);
  for (std::int64_t i = 1; i <= steps; ++i) {
    heading += walk.turn * walk.step + jitter * rng.normal();
    p.x += walk.step * std::cos(heading);
    p.y += walk.step * std::sin(heading);
    if (stop && stop(p)) break;
    const double t = static_cast<double>(i) / static_cast<double>(steps);
    s.points.push_back(p);
    s.widths.push_back(walk.width0 + (walk.width1 - walk.width0) * t);
  }
  return s;
}

torch::Tensor render_strokes(const Canvas& cv, const std::vector<Stroke>& strokes, std::int64_t layers) {
  const auto H = cv.height, W = cv.width, HW = H * W;
  constexpr double kSpacing = 0.5;  // pixels between samples along a stroke
  constexpr double kSigma0 = 0.35;  // the narrowest band (pixels): about a bilinear splat
  constexpr double kRatio = 1.6;    // between successive width bands

  struct Sample {
    float x, y, weight;
    double sigma;
    std::int64_t layer;
  };
  std::vector<Sample> samples;
  double max_sigma = kSigma0;
  for (const auto& s : strokes) {
    TORCH_CHECK(s.layer >= 0 && s.layer < layers, "render_strokes: layer out of range");
    TORCH_CHECK(s.widths.size() == s.points.size(), "render_strokes: one width per point");
    for (std::size_t i = 1; i < s.points.size(); ++i) {
      const double x0 = cv.column(s.points[i - 1].x), y0 = cv.row(s.points[i - 1].y);
      const double x1 = cv.column(s.points[i].x), y1 = cv.row(s.points[i].y);
      const double len = std::hypot(x1 - x0, y1 - y0);
      if (!(len > 0)) continue;
      const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(len / kSpacing)));
      const double ds = len / static_cast<double>(n);
      for (std::int64_t j = 0; j < n; ++j) {
        const double t = (static_cast<double>(j) + 0.5) / static_cast<double>(n);
        const double w = (s.widths[i - 1] * (1 - t) + s.widths[i] * t) / cv.pixel;
        if (!(w > 0)) continue;
        const double sigma = w / 2.5;
        const double x = x0 + (x1 - x0) * t, y = y0 + (y1 - y0) * t;
        const double reach = 2 + 4 * sigma;
        if (x < -reach || y < -reach || x > static_cast<double>(W) + reach || y > static_cast<double>(H) + reach)
          continue;
        // Peak of the blurred line: weight / (sqrt(2 pi) sigma) = strength.
        samples.push_back(Sample{static_cast<float>(x), static_cast<float>(y),
                                 static_cast<float>(s.strength * w * ds), sigma, s.layer});
        max_sigma = std::max(max_sigma, sigma);
      }
    }
  }
  if (samples.empty()) return torch::zeros({layers, H, W}, torch::kFloat32);

  const double log_ratio = std::log(kRatio);
  const auto bands = 1 + static_cast<std::int64_t>(std::ceil(std::log(max_sigma / kSigma0) / log_ratio - 1e-9));
  std::vector<float> xs, ys, ws;
  std::vector<std::int64_t> channel;
  std::vector<bool> used(static_cast<std::size_t>(bands), false);
  xs.reserve(2 * samples.size());
  ys.reserve(2 * samples.size());
  ws.reserve(2 * samples.size());
  channel.reserve(2 * samples.size());
  for (const auto& smp : samples) {
    // Split between the two bands around its width, linearly in log(sigma).
    double level = std::log(std::max(smp.sigma, kSigma0) / kSigma0) / log_ratio;
    level = std::min(level, static_cast<double>(bands - 1));
    const auto lo = static_cast<std::int64_t>(std::floor(level));
    const double f = level - static_cast<double>(lo);
    xs.push_back(smp.x);
    ys.push_back(smp.y);
    ws.push_back(static_cast<float>(smp.weight * (1 - f)));
    channel.push_back(smp.layer * bands + lo);
    used[static_cast<std::size_t>(lo)] = true;
    if (f > 0 && lo + 1 < bands) {
      xs.push_back(smp.x);
      ys.push_back(smp.y);
      ws.push_back(static_cast<float>(smp.weight * f));
      channel.push_back(smp.layer * bands + lo + 1);
      used[static_cast<std::size_t>(lo + 1)] = true;
    }
  }

  const auto channels = layers * bands;
  auto X = float_tensor(xs), Y = float_tensor(ys), Wt = float_tensor(ws);
  auto base = long_tensor(channel) * HW;
  auto x0 = X.floor(), y0 = Y.floor();
  auto fx = X - x0, fy = Y - y0;
  auto xi = x0.to(torch::kInt64), yi = y0.to(torch::kInt64);
  auto acc = torch::zeros({channels * HW}, torch::kFloat32);
  for (int dy = 0; dy <= 1; ++dy) {
    for (int dx = 0; dx <= 1; ++dx) {
      auto cx = xi + dx, cy = yi + dy;
      auto wgt = Wt * (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
      auto valid = ((cx >= 0) & (cx < W) & (cy >= 0) & (cy < H)).to(torch::kFloat32);
      auto idx = base + cy.clamp(0, H - 1) * W + cx.clamp(0, W - 1);
      acc.index_add_(0, idx, wgt * valid);
    }
  }

  // One Gaussian per band (zero outside the image), applied to all layers at once.
  auto grid = acc.view({layers, bands, H, W});
  torch::Tensor out;
  for (std::int64_t b = 0; b < bands; ++b) {
    if (!used[static_cast<std::size_t>(b)]) continue;
    auto blurred = separable_gaussian(grid.select(1, b), kSigma0 * std::pow(kRatio, static_cast<double>(b)), false);
    out = out.defined() ? out + blurred : blurred;
  }
  return out;
}

}  // namespace medadv::plugins::phantom
