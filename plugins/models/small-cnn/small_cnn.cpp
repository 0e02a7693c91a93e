// The small-cnn model plugin library. The implementation lives in small_cnn.h so that
// tests can include it (plugin libraries export nothing but their entry symbol).
#include <medadv/plugin.h>

#include "small_cnn.h"

MEDADV_PLUGINS(medadv::model<medadv::plugins::small_cnn::SmallCnnPlugin>(
    "small-cnn", "1.0.0",
    "Compact classifier: 3 conv blocks (widths w, 2w, 4w), global average pool, dropout, linear"))
