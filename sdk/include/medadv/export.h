#pragma once
// Symbol visibility for the SDK runtime library. Every first-party target builds with
// -fvisibility=hidden, so the runtime marks what it exports.
#define MEDADV_API __attribute__((visibility("default")))
