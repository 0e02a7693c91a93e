/* The medadv plugin ABI: plain C, so that a library from any SDK generation can be
 * inspected and diagnosed before any C++ in it is touched.
 *
 * A plugin library exports exactly one symbol, MEDADV_ENTRY_SYMBOL, whose name carries
 * the ABI major version. It returns a descriptor that begins with abi_major, abi_minor
 * and struct_size. Plugin authors never write this by hand: MEDADV_PLUGINS(...) in
 * <medadv/plugin.h> does.
 *
 * Evolution (docs/decisions.md, "Plugin ABI"): a minor version only appends fields at the
 * end of a struct and never changes the meaning, type or place of one; every struct that
 * may grow carries its own struct_size, and a reader walks arrays by the writer's
 * struct_size and reads an appended field only where MEDADV_ABI_HAS_FIELD says the writer
 * wrote it. Removing, reordering or retyping a field, or a new meaning for an old value,
 * takes a new major (a new entry symbol name). */
#ifndef MEDADV_ABI_H
#define MEDADV_ABI_H

#include <stddef.h>
#include <stdint.h>

#define MEDADV_ABI_MAJOR 1
#define MEDADV_ABI_MINOR 0

#define MEDADV_STRINGIFY_(x) #x
#define MEDADV_STRINGIFY(x) MEDADV_STRINGIFY_(x)
#define MEDADV_ENTRY_PREFIX "medadv_plugin_v"
#define MEDADV_ENTRY_SYMBOL_NAME(major) medadv_plugin_v##major
#define MEDADV_ENTRY_SYMBOL_NAME_EXPAND(major) MEDADV_ENTRY_SYMBOL_NAME(major)
#define MEDADV_ENTRY_SYMBOL MEDADV_ENTRY_SYMBOL_NAME_EXPAND(MEDADV_ABI_MAJOR)
#define MEDADV_ENTRY_SYMBOL_STRING MEDADV_ENTRY_PREFIX MEDADV_STRINGIFY(MEDADV_ABI_MAJOR)

#ifdef __cplusplus
extern "C" {
#endif

/* Plugin kinds (ARCHITECTURE.md section 2). Values are part of the ABI. */
enum medadv_kind {
  MEDADV_KIND_ATTACK = 1,
  MEDADV_KIND_ATTACK_TERM = 2,
  MEDADV_KIND_PREPROCESSOR = 3,
  MEDADV_KIND_TRAINER = 4,
  MEDADV_KIND_WRAPPER = 5,
  MEDADV_KIND_DETECTOR = 6,
  MEDADV_KIND_DATASET = 7,
  MEDADV_KIND_MODEL = 8
};

/* Threat models an attack may declare (ARCHITECTURE.md section 4). */
enum medadv_threat_model {
  MEDADV_THREAT_NONE = 0,
  MEDADV_THREAT_WHITE_BOX = 1,
  MEDADV_THREAT_GRAY_BOX = 2,
  MEDADV_THREAT_BLACK_BOX = 3,
  MEDADV_THREAT_NO_BOX = 4
};

/* One plugin inside a library. The function pointers take and return opaque
 * pointers whose C++ types are fixed by the SDK (see plugin.h); the host calls them
 * only after the library descriptor passed every check. */
typedef struct medadv_plugin_info {
  uint32_t struct_size;
  uint32_t kind;         /* enum medadv_kind */
  const char* name;      /* unique within its kind, lower-case, e.g. "pgd" */
  const char* version;   /* the plugin's own version, e.g. "1.0.0" */
  const char* summary;   /* one line */
  uint32_t threat_model; /* enum medadv_threat_model; attacks only */
  /* fills a medadv::ParamSchema* */
  void (*describe)(void* schema);
  /* (const medadv::Params*, medadv::RunContext*) -> pointer to the kind's interface */
  void* (*create)(const void* params, void* context);
  /* deletes what create returned */
  void (*destroy)(void* instance);
} medadv_plugin_info;

typedef struct medadv_library_descriptor {
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;
  const char* sdk_version;   /* e.g. "0.1.0" */
  uint32_t torch_major;      /* LibTorch the library was compiled against */
  uint32_t torch_minor;
  const char* cxx_abi_tag;   /* standard library + _GLIBCXX_USE_CXX11_ABI, checked */
  const char* compiler;      /* compiler id and version, for diagnostics only */
  uint32_t plugin_count;
  const medadv_plugin_info* plugins;
} medadv_library_descriptor;

typedef const medadv_library_descriptor* (*medadv_entry_fn)(void);

/* The 1.0 layouts: the least a host accepts, fixed while sizeof grows with minors. */
#define MEDADV_PLUGIN_INFO_SIZE_1_0 \
  (offsetof(medadv_plugin_info, destroy) + sizeof(((const medadv_plugin_info*)0)->destroy))
#define MEDADV_DESCRIPTOR_SIZE_1_0 \
  (offsetof(medadv_library_descriptor, plugins) + sizeof(((const medadv_library_descriptor*)0)->plugins))

/* Whether the writer of *ptr (a struct of type `type` with its struct_size) wrote `field`. */
#define MEDADV_ABI_HAS_FIELD(ptr, type, field) \
  ((size_t)(ptr)->struct_size >= offsetof(type, field) + sizeof(((const type*)0)->field))

#ifdef __cplusplus
}
#endif

#endif /* MEDADV_ABI_H */
