/*
 * runtime.c -- the thread count the kernels use (NNCORE_NUM_THREADS, else
 * OpenMP's), fork safety, and the floating-point mode. Uses nothing of nncore
 * but atomics.h (see runtime.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "nncore.h"
#include "runtime.h"

#if defined(NNCORE_OPENMP)
#include <omp.h>
#endif

#define NC_MAX_THREADS 4096

/* 0: follow OpenMP's setting. Every kernel call reads it and
 * nc_set_num_threads may write it from any thread at the same time (a
 * free-threaded Python runs callers in parallel), so both go through
 * relaxed atomic accesses. */
static long num_threads;
static char notes[256]; /* see nc_runtime_notes; written once, by init */
static nc_once_flag initialized;

static int openmp_threads(void)
{
#if defined(NNCORE_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* NNCORE_NUM_THREADS as a thread count; 0 when unset or empty, -1 when it
 * is not a whole number from 1 to NC_MAX_THREADS. */
static int env_threads(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v > 0 && v <= NC_MAX_THREADS) ? (int)v : -1;
}

/* Threads set by NNCORE_NUM_THREADS; 0 = not set, then OpenMP decides
 * (OMP_NUM_THREADS, or threadpoolctl's limits, which set the OpenMP
 * runtime's value), so nncore follows the tools users already know. */
static int explicit_threads(void)
{
    const char *value = getenv("NNCORE_NUM_THREADS");
    int threads = env_threads(value);
    if (threads >= 0)
        return threads;
    snprintf(notes, sizeof notes,
             "NNCORE_NUM_THREADS='%.40s' is not a whole number from 1 to 4096; "
             "nncore uses OpenMP's thread count instead (%d now)\n",
             value, openmp_threads());
    return 0;
}

/* GCC's OpenMP runtime is not fork-safe (GCC bug 60035): a child forked after
 * a parallel region has run inherits the forking thread's pool, whose threads
 * do not exist in the child, and its first parallel region waits for them
 * forever. Releasing that pool just before each fork (OpenMP 5's
 * omp_pause_resource_all, in libgomp since GCC 10) lets the child start its
 * own, and the parent starts a new one at its next parallel region. LLVM's
 * and Intel's runtimes handle fork themselves; Windows has no fork.
 * Registered by init, which runs before any parallel region: every kernel
 * asks nc_get_num_threads before it starts one. */
#if defined(NNCORE_OPENMP) && defined(__GNUC__) && !defined(__clang__) &&                          \
    !defined(__INTEL_COMPILER) && __GNUC__ >= 10 && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
static void release_threads_before_fork(void)
{
    omp_pause_resource_all(omp_pause_hard);
}
static void make_fork_safe(void)
{
    pthread_atfork(release_threads_before_fork, NULL, NULL);
}
#else
static void make_fork_safe(void) {}
#endif

static void init(void)
{
    make_fork_safe();
    NC_STORE_RELAXED(&num_threads, explicit_threads());
}

void nc_set_num_threads(int n)
{
    nc_once(&initialized, init);
    NC_STORE_RELAXED(&num_threads, n < 1 ? 1 : (n > NC_MAX_THREADS ? NC_MAX_THREADS : n));
}

int nc_get_num_threads(void)
{
    nc_once(&initialized, init);
    const long threads = NC_LOAD_RELAXED(&num_threads);
    return threads > 0 ? (int)threads : openmp_threads();
}

const char *nc_runtime_notes(void)
{
    nc_once(&initialized, init);
    return notes;
}

/* ------------------------------------------------ floating-point mode */

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define NC_X86 1
#include <xmmintrin.h>
#define NC_MXCSR_DAZ 0x0040u /* denormal inputs are zero */
#define NC_MXCSR_FTZ 0x8000u /* denormal results are zero */
#endif

uint64_t nc_fp_state(void)
{
#if defined(NC_X86)
    return _mm_getcsr();
#elif defined(__aarch64__) && defined(__GNUC__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
#else
    return 0;
#endif
}

uint64_t nc_fp_swap(uint64_t state)
{
    const uint64_t before = nc_fp_state();
#if defined(NC_X86)
    _mm_setcsr((unsigned)state);
#elif defined(__aarch64__) && defined(__GNUC__)
    __asm__ __volatile__("msr fpcr, %0" : : "r"(state));
#else
    (void)state;
#endif
    return before;
}

uint64_t nc_fp_flush_denormals(void)
{
#if defined(NC_X86)
    return nc_fp_swap(nc_fp_state() | NC_MXCSR_DAZ | NC_MXCSR_FTZ);
#elif defined(__aarch64__) && defined(__GNUC__)
    return nc_fp_swap(nc_fp_state() | ((uint64_t)1 << 24)); /* FPCR.FZ */
#else
    return nc_fp_state();
#endif
}
