/*
 * gemm.c -- the public GEMM entry points.
 *
 * For now every path runs the reference loops; the blocked, packed,
 * threaded driver (Goto/BLIS scheme) replaces this file's body.
 */
#include "cpu.h"
#include "nncore.h"

typedef struct nc_kernel_table {
    nc_status (*gemm_f32)(size_t, size_t, size_t, float, const float *, ptrdiff_t, ptrdiff_t,
                          const float *, ptrdiff_t, ptrdiff_t, float, float *, ptrdiff_t,
                          ptrdiff_t);
    nc_status (*gemm_f64)(size_t, size_t, size_t, double, const double *, ptrdiff_t, ptrdiff_t,
                          const double *, ptrdiff_t, ptrdiff_t, double, double *, ptrdiff_t,
                          ptrdiff_t);
} nc_kernel_table;

static nc_kernel_table kernels = {nc_gemm_f32_ref, nc_gemm_f64_ref};

void nc_select_kernels(const char *name)
{
    (void)name;
    kernels.gemm_f32 = nc_gemm_f32_ref;
    kernels.gemm_f64 = nc_gemm_f64_ref;
}

nc_status nc_gemm_f32(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                      float *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    nc_cpu_init();
    return kernels.gemm_f32(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs);
}

nc_status nc_gemm_f64(size_t m, size_t n, size_t k, double alpha, const double *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                      double *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    nc_cpu_init();
    return kernels.gemm_f64(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs);
}
