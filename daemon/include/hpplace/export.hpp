#pragma once

// Symbols of libhpplace's public API. The library is built with hidden
// visibility; only what is marked HPPLACE_API is exported from libhpplace.so.
#if defined(HPPLACE_BUILDING_LIBRARY)
#define HPPLACE_API __attribute__((visibility("default")))
#else
#define HPPLACE_API
#endif
