/*
 * cpu_features.h -- internal: what this CPU and its operating system can run.
 * Depends on nothing of nncore but the nc_cpu_info struct of nncore.h; holds
 * no state. dispatch.c, which chooses the kernel path, is its one user.
 */
#ifndef NNCORE_CPU_FEATURES_H
#define NNCORE_CPU_FEATURES_H

#include "nncore.h"

/* Fills every instruction-set flag of *info (1: the CPU has it and the OS
 * saves its registers); leaves info->kernel NULL. The same answer on every
 * call, so callers may run it more than once. */
void nc_detect_cpu(nc_cpu_info *info);

#endif
