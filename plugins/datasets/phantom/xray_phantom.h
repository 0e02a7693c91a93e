#pragma once
// Procedural chest radiographs (posteroanterior view, the patient's left on the image's
// right) with pneumonia: the image generator behind the phantom-xray dataset plugin
// (phantom_xray.h).
//
// The image is built as a map of attenuation (optical density) and then exposed:
// soft tissue whose thickness falls off towards the body's sides, two lung fields that
// remove density (air; darkest in their middle), bounded below by the domed diaphragm
// (the right one higher; liver and stomach, with its air bubble, below) and medially by
// the mediastinum; the heart shadow (left of the
// patient's midline, i.e. right of the image's centre) on the diaphragm; the upper
// mediastinum with the aortic knob; the spine as a vertical band of vertebrae; posterior
// ribs as bright arcs from the spine, fainter anterior ribs, the clavicles; the air of
// the trachea and main bronchi; branching vascular markings from the hila. Pneumonia
// adds patchy opacities (blurred, mottled blobs) inside the lung fields: bacterial
// pneumonia a few large dense patches in one lung (lobar consolidation), viral
// pneumonia many small fainter ones in both lungs, around the hila and lower zones.
// Acquisition: patient position and size (or, with `zoom`, a close view of part of the
// chest), exposure (film gamma, window), the heel effect, detector blur and quantum-like
// noise whose spread grows with brightness (fewer photons reach the detector behind dense
// tissue).
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include "phantom_draw.h"

namespace medadv::plugins::phantom {

enum class XrayFinding { Normal = 0, BacterialPneumonia = 1, ViralPneumonia = 2 };

struct XraySpec {
  std::int64_t image_size = 64;
  XrayFinding finding = XrayFinding::Normal;
  double noise = 0.02;        // spread of the noise at mid grey (intensities in [0,1])
  double lesion_scale = 1.0;  // multiplies the size of every opacity
  double opacity = 1.0;       // multiplies the density of every opacity
  double aeration = 1.0;      // multiplies the air in the lung fields (their darkness)
  double zoom = 1.0;          // > 1: a magnified, rotated view of a random part of the chest
};

// Where the anatomy of one image lies.
struct XrayLayout {
  Pose pose;              // the patient's frame in the image (the spine on its x = 0)
  torch::Tensor heart;    // [S,S] bool: the heart shadow
  torch::Tensor spine;    // [S,S] bool: the vertebral column above the heart
  torch::Tensor opacity;  // [S,S] float32: density added by pneumonia (0 when normal)
  std::int64_t patches = 0;  // opacity blobs drawn
};

// Renders one image, [1,S,S] float32 in [0,1]. Every random choice comes from `gen`.
// `lungs` (optional) receives [1,S,S] float32, 1 on the visible lung fields (the heart
// shadow excluded), the target of lung segmentation.
torch::Tensor render_xray(const XraySpec& spec, at::Generator& gen, torch::Tensor* lungs = nullptr,
                          XrayLayout* layout = nullptr);

// The finding of an image drawn from its own generator before rendering: pneumonia with
// probability `balance`, bacterial and viral equally likely among it.
XrayFinding draw_xray_finding(at::Generator& gen, double balance);

}  // namespace medadv::plugins::phantom
