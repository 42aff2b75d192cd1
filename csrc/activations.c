/* activations.c -- float and double instances of activations_impl.h. */
#include <string.h>

#include "nncore.h"

#define T float
#define FAST(name) name##_f32
#define REF(name) name##_f32_ref
#include "activations_impl.h"
#undef T
#undef FAST
#undef REF

#define T double
#define FAST(name) name##_f64
#define REF(name) name##_f64_ref
#include "activations_impl.h"
