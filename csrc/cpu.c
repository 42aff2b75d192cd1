/*
 * cpu.c -- which instruction sets this CPU (and OS) supports, which kernel
 * path is in use, and how many threads the kernels may use.
 *
 * Detection follows what OpenBLAS' DYNAMIC_ARCH and BLIS do: cpuid says what
 * the CPU has, xgetbv says whether the OS saves the wide registers on a
 * context switch; both must agree before a path is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "nncore.h"

#if defined(NNCORE_OPENMP)
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define NC_X86 1
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
static void cpuid(int leaf, int subleaf, unsigned r[4])
{
    int regs[4];
    __cpuidex(regs, leaf, subleaf);
    for (int i = 0; i < 4; i++)
        r[i] = (unsigned)regs[i];
}
static unsigned long long xgetbv0(void)
{
    return _xgetbv(0);
}
#else
#include <cpuid.h>
static void cpuid(int leaf, int subleaf, unsigned r[4])
{
    __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
}
static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif
#endif

static nc_cpu_info detected;    /* what the hardware supports */
static const char *kernel_name; /* the path in use */
/* 0: follow OpenMP's setting. Every kernel call reads it and
 * nc_set_num_threads may write it from any thread at the same time (a
 * free-threaded Python runs callers in parallel), so both go through
 * relaxed atomic accesses. */
static long num_threads;
static int initialized;

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define NC_LOAD(p) _InterlockedOr((volatile long *)(p), 0)
#define NC_STORE(p, v) (void)_InterlockedExchange((volatile long *)(p), (v))
#else
#define NC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define NC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif
static char settings_notes[512]; /* see nc_settings_notes */

static void detect(nc_cpu_info *info)
{
    memset(info, 0, sizeof *info);
#if defined(NC_X86)
    unsigned r[4];
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    cpuid(1, 0, r);
    info->sse2 = (r[3] >> 26) & 1;
    int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6;   /* XMM and YMM state saved */
    int os_zmm = (xcr0 & 0xe6) == 0xe6; /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    info->avx = avx && os_ymm;
    info->fma = fma && os_ymm;
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        info->avx2 = ((r[1] >> 5) & 1) && os_ymm;
        info->avx512f = ((r[1] >> 16) & 1) && os_zmm;
    }
#elif defined(__aarch64__) || defined(_M_ARM64)
    info->neon = 1; /* Advanced SIMD is mandatory in AArch64 */
#endif
}

/* The best path compiled in and supported here. */
static const char *best_kernel(const nc_cpu_info *info)
{
#if defined(NNCORE_HAVE_AVX512)
    if (info->avx512f && info->avx2 && info->fma)
        return "avx512";
#endif
#if defined(NNCORE_HAVE_AVX2)
    if (info->avx2 && info->fma)
        return "avx2";
#endif
#if defined(NNCORE_HAVE_NEON)
    if (info->neon)
        return "neon";
#endif
    (void)info;
    return "generic";
}

/* The static string for a path name, so callers may free theirs; NULL for
 * a name that is no path. */
static const char *canonical_name(const char *name)
{
    static const char *const names[] = {"generic", "avx2", "avx512", "neon"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return names[i];
    return NULL;
}

static int kernel_supported(const char *name)
{
    if (strcmp(name, "generic") == 0)
        return 1;
#if defined(NNCORE_HAVE_AVX2)
    if (strcmp(name, "avx2") == 0)
        return detected.avx2 && detected.fma;
#endif
#if defined(NNCORE_HAVE_AVX512)
    if (strcmp(name, "avx512") == 0)
        return detected.avx512f && detected.avx2 && detected.fma;
#endif
#if defined(NNCORE_HAVE_NEON)
    if (strcmp(name, "neon") == 0)
        return detected.neon;
#endif
    return 0;
}

#define NC_MAX_THREADS 4096

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

/* Appends one line to settings_notes (cut short if it is full). */
static void add_note(const char *format, const char *value, const char *instead)
{
    size_t used = strlen(settings_notes);
    if (used + 1 < sizeof settings_notes)
        snprintf(settings_notes + used, sizeof settings_notes - used, format, value, instead);
}

static int openmp_threads(void)
{
#if defined(NNCORE_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Threads set by nc_set_num_threads or NNCORE_NUM_THREADS; 0 = not set, then
 * OpenMP decides (OMP_NUM_THREADS, or threadpoolctl's limits, which set the
 * OpenMP runtime's value), so nncore follows the tools users already know. */
static int explicit_threads(void)
{
    const char *value = getenv("NNCORE_NUM_THREADS");
    int threads = env_threads(value);
    if (threads >= 0)
        return threads;
    char instead[64];
    snprintf(instead, sizeof instead, "%d", openmp_threads());
    add_note("NNCORE_NUM_THREADS='%.40s' is not a whole number from 1 to 4096; "
             "nncore uses OpenMP's thread count instead (%s now)\n",
             value, instead);
    return 0;
}

/* The path NNCORE_ARCH names when this CPU runs it, else the best one. */
static const char *kernel_from_environment(void)
{
    const char *best = best_kernel(&detected);
    const char *forced = getenv("NNCORE_ARCH");
    if (!forced || !*forced)
        return best;
    if (kernel_supported(forced))
        return canonical_name(forced);
    if (canonical_name(forced))
        add_note("NNCORE_ARCH='%.40s' is a kernel path this CPU or this build does not run; "
                 "nncore uses '%s' instead\n",
                 forced, best);
    else
        add_note("NNCORE_ARCH='%.40s' names no kernel path (generic, avx2, avx512, neon); "
                 "nncore uses '%s' instead\n",
                 forced, best);
    return best;
}

/* GCC's OpenMP runtime is not fork-safe (GCC bug 60035): a child forked after
 * a parallel region has run inherits the forking thread's pool, whose threads
 * do not exist in the child, and its first parallel region waits for them
 * forever. Releasing that pool just before each fork (OpenMP 5's
 * omp_pause_resource_all, in libgomp since GCC 10) lets the child start its
 * own, and the parent starts a new one at its next parallel region. LLVM's
 * and Intel's runtimes handle fork themselves; Windows has no fork. */
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

/* Runs once. The first call comes from the module import, holding the GIL,
 * so no lock is needed; later calls only read. */
void nc_cpu_init(void)
{
    if (initialized)
        return;
    make_fork_safe();
    detect(&detected);
    kernel_name = kernel_from_environment();
    NC_STORE(&num_threads, explicit_threads());
    nc_select_kernels(kernel_name);
    initialized = 1;
}

void nc_cpu_features(nc_cpu_info *info)
{
    nc_cpu_init();
    *info = detected;
    info->kernel = kernel_name;
}

nc_status nc_set_kernel(const char *name)
{
    nc_cpu_init();
    if (!name || !kernel_supported(name))
        return NC_ERR_INVALID_ARGUMENT;
    kernel_name = canonical_name(name);
    nc_select_kernels(kernel_name);
    return NC_OK;
}

void nc_set_num_threads(int n)
{
    nc_cpu_init();
    NC_STORE(&num_threads, n < 1 ? 1 : (n > NC_MAX_THREADS ? NC_MAX_THREADS : n));
}

int nc_get_num_threads(void)
{
    nc_cpu_init();
    const long threads = NC_LOAD(&num_threads);
    return threads > 0 ? (int)threads : openmp_threads();
}

const char *nc_settings_notes(void)
{
    nc_cpu_init();
    return settings_notes;
}

/* ------------------------------------------------ floating-point mode */

#if defined(NC_X86)
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
