# The C API as _core sees it: the types and functions of csrc/nncore.h, taken
# from nncore.cython_kernels, the one extension the C kernels are compiled
# into. A C function declared here with `cdef extern` instead would not link
# (_core carries no C code): declare it in cython_kernels.pxd.
from nncore.cython_kernels cimport *
