/*
 * cpu_features.c -- which instruction sets this CPU (and OS) supports. Owns
 * the CPUID/xgetbv reads; uses nothing of nncore (see cpu_features.h).
 *
 * Detection follows what OpenBLAS' DYNAMIC_ARCH and BLIS do: cpuid says what
 * the CPU has, xgetbv says whether the OS saves the wide registers on a
 * context switch; both must agree before a path is used.
 */
#include <string.h>

#include "cpu_features.h"

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

void nc_detect_cpu(nc_cpu_info *info)
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
