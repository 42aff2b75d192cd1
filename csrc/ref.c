/*
 * ref.c -- instantiates the reference twins (ref_impl.h) for float and double.
 */
#include <math.h>

#include "nncore.h"

#define T float
#define REF(name) name##_f32_ref
#define EPILOGUE nc_epilogue_f32
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define EXPM1 expm1f
#define TANH tanhf
#define ERF erff
#define SQRT sqrtf
#define FABS fabsf
#include "ref_impl.h"
#undef T
#undef REF
#undef EPILOGUE
#undef EXP
#undef LOG
#undef LOG1P
#undef EXPM1
#undef TANH
#undef ERF
#undef SQRT
#undef FABS

#define T double
#define REF(name) name##_f64_ref
#define EPILOGUE nc_epilogue_f64
#define EXP exp
#define LOG log
#define LOG1P log1p
#define EXPM1 expm1
#define TANH tanh
#define ERF erf
#define SQRT sqrt
#define FABS fabs
#include "ref_impl.h"
