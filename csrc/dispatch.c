/*
 * dispatch.c -- the kernel paths this build holds, which one runs, and the
 * start-up report: nc_cpu_features, nc_set_kernel, nc_settings_notes (see
 * dispatch.h). Uses cpu_features.c and, for nc_settings_notes, runtime.c.
 *
 * The table in use is an atomic pointer to one of the constant tables
 * below: nc_set_kernel may switch it while kernels run on other threads
 * (each call keeps the table it read first), and reading it costs a plain
 * load on x86-64 (an LDAR on AArch64).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "cpu_features.h"
#include "dispatch.h"
#include "nncore.h"
#include "runtime.h"

/* What each path needs of the CPU. */
#if defined(NNCORE_HAVE_AVX512)
static int runs_avx512(const nc_cpu_info *cpu)
{
    return cpu->avx512f && cpu->avx2 && cpu->fma;
}
#endif
#if defined(NNCORE_HAVE_AVX2)
static int runs_avx2(const nc_cpu_info *cpu)
{
    return cpu->avx2 && cpu->fma;
}
#endif
#if defined(NNCORE_HAVE_NEON)
static int runs_neon(const nc_cpu_info *cpu)
{
    return cpu->neon;
}
#endif
static int runs_anywhere(const nc_cpu_info *cpu)
{
    (void)cpu;
    return 1;
}

typedef struct path_entry {
    nc_kernel_table table;
    int (*runs_on)(const nc_cpu_info *cpu);
} path_entry;

/* The paths compiled into this build (setup.py defines NNCORE_HAVE_<ISA> for
 * each gemm_<isa>.c it builds), best first: the first one the CPU runs is
 * the default. */
static const path_entry paths[] = {
#if defined(NNCORE_HAVE_AVX512)
    {{"avx512", &nc_gemm_avx512_f32, &nc_gemm_avx512_f64}, runs_avx512},
#endif
#if defined(NNCORE_HAVE_AVX2)
    {{"avx2", &nc_gemm_avx2_f32, &nc_gemm_avx2_f64}, runs_avx2},
#endif
#if defined(NNCORE_HAVE_NEON)
    {{"neon", &nc_gemm_neon_f32, &nc_gemm_neon_f64}, runs_neon},
#endif
    {{"generic", &nc_gemm_generic_f32, &nc_gemm_generic_f64}, runs_anywhere},
};
#define NC_PATH_COUNT (sizeof paths / sizeof paths[0])

/* Every path name any build knows, to tell a misspelt NNCORE_ARCH from a
 * path this build or CPU lacks. */
static const char *const known_names[] = {"generic", "avx2", "avx512", "neon"};

static nc_cpu_info detected;           /* what the hardware supports */
static const nc_kernel_table *current; /* atomic; NULL until init */
static char arch_note[256];            /* NNCORE_ARCH not honoured; written by init */
static char notes[512];                /* see nc_settings_notes; written by join_notes */
static nc_once_flag initialized, notes_joined;

/* The entry named `name` when this CPU runs it, else NULL. */
static const path_entry *runnable(const char *name)
{
    for (size_t i = 0; i < NC_PATH_COUNT; i++)
        if (strcmp(name, paths[i].table.name) == 0)
            return paths[i].runs_on(&detected) ? &paths[i] : NULL;
    return NULL;
}

static int known_name(const char *name)
{
    for (size_t i = 0; i < sizeof known_names / sizeof known_names[0]; i++)
        if (strcmp(name, known_names[i]) == 0)
            return 1;
    return 0;
}

/* The path NNCORE_ARCH names when this CPU runs it, else the best one. */
static const nc_kernel_table *table_from_environment(void)
{
    const nc_kernel_table *best = &paths[NC_PATH_COUNT - 1].table; /* generic */
    for (size_t i = 0; i < NC_PATH_COUNT; i++)
        if (paths[i].runs_on(&detected)) {
            best = &paths[i].table;
            break;
        }
    const char *forced = getenv("NNCORE_ARCH");
    if (!forced || !*forced)
        return best;
    const path_entry *entry = runnable(forced);
    if (entry)
        return &entry->table;
    snprintf(arch_note, sizeof arch_note,
             known_name(forced)
                 ? "NNCORE_ARCH='%.40s' is a kernel path this CPU or this build does not run; "
                   "nncore uses '%s' instead\n"
                 : "NNCORE_ARCH='%.40s' names no kernel path (generic, avx2, avx512, neon); "
                   "nncore uses '%s' instead\n",
             forced, best->name);
    return best;
}

static void init(void)
{
    nc_detect_cpu(&detected);
    NC_STORE_POINTER(&current, table_from_environment());
}

const nc_kernel_table *nc_kernels(void)
{
    const nc_kernel_table *table = NC_LOAD_POINTER(&current);
    if (table)
        return table;
    nc_once(&initialized, init);
    return NC_LOAD_POINTER(&current);
}

const nc_gemm_blocking *nc_gemm_blocking_f32(void)
{
    return &nc_kernels()->gemm_f32->blocks;
}

const nc_gemm_blocking *nc_gemm_blocking_f64(void)
{
    return &nc_kernels()->gemm_f64->blocks;
}

void nc_cpu_features(nc_cpu_info *info)
{
    nc_once(&initialized, init);
    *info = detected;
    info->kernel = nc_kernels()->name;
}

nc_status nc_set_kernel(const char *name)
{
    nc_once(&initialized, init);
    const path_entry *entry = name ? runnable(name) : NULL;
    if (!entry)
        return NC_ERR_INVALID_ARGUMENT;
    NC_STORE_POINTER(&current, &entry->table);
    return NC_OK;
}

/* The dispatcher's line first, then the runtime's, as both are read at
 * start-up. */
static void join_notes(void)
{
    nc_once(&initialized, init);
    snprintf(notes, sizeof notes, "%s%s", arch_note, nc_runtime_notes());
}

const char *nc_settings_notes(void)
{
    nc_once(&notes_joined, join_notes);
    return notes;
}
