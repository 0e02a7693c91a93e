// The phantom data sets: procedural medical images generated in process.
#include "medadv/plugin.h"
#include "phantom_fundus.h"

MEDADV_PLUGINS(medadv::dataset<medadv::phantom::PhantomFundus>(
    "phantom-fundus", "1.0.0",
    "Synthetic colour fundus photographs with diabetic retinopathy lesions (binary or 5 grades), "
    "generated from the seed"))
