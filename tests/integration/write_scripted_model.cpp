// write_scripted_model FILE CHANNELS CLASSES TASK: saves a small scripted TorchScript
// model (tests/fixtures/scripted_model.h) for the torchscript model plugin, TASK
// classification or segmentation. The smoke matrix runs the plugin on it.
#include <cstdio>
#include <string>

#include "fixtures/scripted_model.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: write_scripted_model FILE CHANNELS CLASSES classification|segmentation\n");
    return 2;
  }
  const std::string task = argv[4];
  const std::int64_t channels = std::stoll(argv[2]), classes = std::stoll(argv[3]);
  if (task == "classification") {
    medadv::fixtures::scripted_classifier(channels, classes, /*with_features=*/true, 0).save(argv[1]);
  } else if (task == "segmentation") {
    medadv::fixtures::scripted_segmenter(channels, classes, 0).save(argv[1]);
  } else {
    std::fprintf(stderr, "write_scripted_model: unknown task '%s'\n", task.c_str());
    return 2;
  }
  return 0;
}
