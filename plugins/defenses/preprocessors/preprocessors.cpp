// The preprocessing-defense library. Each preprocessor lives in a header so that tests can
// include it: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "freq_jpeg.h"
#include "jpeg.h"
#include "smoothing.h"
#include "tvm.h"

MEDADV_PLUGINS(medadv::preprocessor<medadv::plugins::preprocessors::Jpeg>(
                   "jpeg", "1.0.0",
                   "JPEG compression and decompression (baseline JFIF, libjpeg's tables and 4:2:0 option); BPDA "
                   "identity or Shin-Song differentiable rounding"),
               medadv::preprocessor<medadv::plugins::preprocessors::FreqJpeg>(
                   "freq-jpeg", "1.0.0",
                   "Frequency-refined JPEG (Liu et al., MICCAI 2020): per-channel 8x8 DCT quantised with a "
                   "band table (GD, AC, PD)"),
               medadv::preprocessor<medadv::plugins::preprocessors::BitDepth>(
                   "bit-depth", "1.0.0", "Bit-depth reduction: round(x (2^bits - 1)) / (2^bits - 1)"),
               medadv::preprocessor<medadv::plugins::preprocessors::Median>(
                   "median", "1.0.0", "Median smoothing over a size x size window (scipy conventions)"),
               medadv::preprocessor<medadv::plugins::preprocessors::Gaussian>(
                   "gaussian", "1.0.0", "Gaussian blur (separable, reflect extension)"),
               medadv::preprocessor<medadv::plugins::preprocessors::Tvm>(
                   "tvm", "1.0.0",
                   "Total-variance minimisation (Guo et al. 2018): random pixel dropping and TV reconstruction; "
                   "randomised (attack with EOT)"))
