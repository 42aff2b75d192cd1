/* losses.c -- float and double instances of losses_impl.h. */
#include <math.h>

#include "nncore.h"

#define T float
#define FAST(name) name##_f32
#define REF(name) name##_f32_ref
#include "losses_impl.h"
#undef T
#undef FAST
#undef REF

#define T double
#define FAST(name) name##_f64
#define REF(name) name##_f64_ref
#include "losses_impl.h"
