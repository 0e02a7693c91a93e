#pragma once
// One kind's template for `medadv new`: what differs between kinds. The placeholders
// (@NAME@, @TARGET@, @CLASS@) are described in scaffold.cpp.

namespace medadv::host::scaffold {

// What differs between kinds; CMakeLists.txt, the .cpp and the README are shared.
struct KindTemplate {
  const char* helper;     // the registration helper in plugin.h: attack, attack_term, ...
  const char* threat;     // extra registration argument (attacks only), else ""
  const char* summary;    // one line: registration and README
  const char* about;      // README: what it does, its parameters, where to go next
  const char* header;     // @TARGET@.h: the plugin class
  const char* test;       // test_@TARGET@.cpp
};

KindTemplate attack_template();
KindTemplate attack_term_template();
KindTemplate preprocessor_template();
KindTemplate trainer_template();
KindTemplate wrapper_template();
KindTemplate detector_template();
KindTemplate dataset_template();
KindTemplate model_template();

}  // namespace medadv::host::scaffold
