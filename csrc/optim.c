/* optim.c -- float and double instances of optim_impl.h. */
#include <math.h>

#include "nncore.h"
#include "runtime.h"

#if defined(NNCORE_OPENMP)
#include <omp.h>
#endif

/* Below this many parameters the update runs on one thread. */
#define NC_OPTIMIZER_PARALLEL_MIN 65536

size_t nc_optimizer_state_slots(nc_optimizer_kind kind)
{
    return kind == NC_OPT_SGD ? 1 : 2;
}

#define T float
#define FAST(name) name##_f32
#define REF(name) name##_f32_ref
#define SQRT sqrtf
#include "optim_impl.h"
#undef T
#undef FAST
#undef REF
#undef SQRT

#define T double
#define FAST(name) name##_f64
#define REF(name) name##_f64_ref
#define SQRT sqrt
#include "optim_impl.h"
