// Registers the @NAME@ plugin. The class lives in @TARGET@.h so that
// test_@TARGET@.cpp can use it without this library's entry symbol. A library has
// exactly one MEDADV_PLUGINS line; to ship several plugins together, list them all in it.
#include "@TARGET@.h"

MEDADV_PLUGINS(medadv::attack_term<@CLASS@>(
    "@NAME@", "0.1.0", "Pushes the mean activation of a model tap up or down"))
