// Data sets read from the user's files: image folders, MedMNIST archives, segmentation
// image/mask folders.
#include "image_folder.h"
#include "medadv/plugin.h"
#include "medmnist.h"
#include "segmentation_folder.h"

MEDADV_PLUGINS(medadv::dataset<medadv::plugins::files::ImageFolder>(
                   "image-folder", "1.0.0",
                   "Classification images (PNG/JPEG) from root/<class>/* or root/<split>/<class>/* folders"),
               medadv::dataset<medadv::plugins::files::MedMnist>(
                   "medmnist", "1.0.0", "A MedMNIST v2 .npz (2-D, single-label) with its train/val/test splits"),
               medadv::dataset<medadv::plugins::files::SegmentationFolder>(
                   "segmentation-folder", "1.0.0",
                   "Images and binary masks (PNG/JPEG) from two folders, paired by file name"))
