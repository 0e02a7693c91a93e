#pragma once
// Everything a plugin author needs.
#include "medadv/device.h"
#include "medadv/metrics.h"
#include "medadv/plugin.h"
#include "medadv/torch_compat.h"
