/*
 * atomics.h -- internal: the few atomic operations the library's shared
 * settings need, and a run-once guard built on them. Owns no state; depends
 * on nothing of nncore.
 *
 * Compiler builtins rather than <stdatomic.h>: MSVC offers that header only
 * behind an experimental switch. On GCC and Clang the relaxed and acquire
 * loads compile to plain loads on x86-64 (LDR and LDAR on AArch64), so
 * reading a setting on every kernel call costs about what reading a plain
 * global does.
 */
#ifndef NNCORE_ATOMICS_H
#define NNCORE_ATOMICS_H

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
/* MSVC: the Interlocked intrinsics are full barriers, stronger than asked. */
#define NC_LOAD_RELAXED(p) _InterlockedOr((volatile long *)(p), 0)
#define NC_STORE_RELAXED(p, v) (void)_InterlockedExchange((volatile long *)(p), (v))
#define NC_LOAD_ACQUIRE(p) _InterlockedOr((volatile long *)(p), 0)
#define NC_STORE_RELEASE(p, v) (void)_InterlockedExchange((volatile long *)(p), (v))
#define NC_CAS(p, expected, desired)                                                               \
    (_InterlockedCompareExchange((volatile long *)(p), (desired), (expected)) == (expected))
#define NC_LOAD_POINTER(p) _InterlockedCompareExchangePointer((void *volatile *)(p), NULL, NULL)
#define NC_STORE_POINTER(p, v) (void)_InterlockedExchangePointer((void *volatile *)(p), (void *)(v))
#else
#define NC_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define NC_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define NC_LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define NC_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
static inline int nc_cas_long(long *p, long expected, long desired)
{
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}
#define NC_CAS(p, expected, desired) nc_cas_long((p), (expected), (desired))
#define NC_LOAD_POINTER(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define NC_STORE_POINTER(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif

/* 0: not run; 1: running; 2: done. Zero-initialized statics start at 0. */
typedef long nc_once_flag;

/* Runs init exactly once per flag, even when several threads arrive first at
 * the same time (an embedder may start its threads before any nncore call):
 * the others wait until it has returned, so what it wrote is visible to
 * every caller. init takes microseconds (cpuid, getenv), so the waiting
 * threads spin rather than sleep. */
static inline void nc_once(nc_once_flag *flag, void (*init)(void))
{
    if (NC_LOAD_ACQUIRE(flag) == 2)
        return;
    if (NC_CAS(flag, 0L, 1L)) {
        init();
        NC_STORE_RELEASE(flag, 2L);
        return;
    }
    while (NC_LOAD_ACQUIRE(flag) != 2) {
    }
}

#endif
