// The phantom data sets: procedural medical images generated in process.
#include "medadv/plugin.h"
#include "phantom_derm.h"
#include "phantom_fundus.h"
#include "phantom_xray.h"

MEDADV_PLUGINS(medadv::dataset<medadv::plugins::phantom::PhantomFundus>(
                   "phantom-fundus", "1.0.0",
                   "Synthetic colour fundus photographs with diabetic retinopathy lesions (binary or 5 grades), "
                   "generated from the seed"),
               medadv::dataset<medadv::plugins::phantom::PhantomXray>(
                   "phantom-xray", "1.0.0",
                   "Synthetic chest radiographs with pneumonia (binary or bacterial/viral) and lung-field masks "
                   "(classification or segmentation), generated from the seed"),
               medadv::dataset<medadv::plugins::phantom::PhantomDerm>(
                   "phantom-derm", "1.0.0",
                   "Synthetic dermoscopy images of one pigmented lesion: benign/malignant or nevus/seborrheic "
                   "keratosis/melanoma, with lesion masks (classification or segmentation), generated from the seed"))
