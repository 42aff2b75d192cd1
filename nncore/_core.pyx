# The only Cython in nncore: it turns numpy arrays into pointers and strides,
# releases the GIL around every C call, and turns C status codes into Python
# exceptions. No math here, and no argument checking beyond what keeps the C
# call memory-safe: the public Python wrappers (kernels.py, models.py) check
# user input and produce the messages users read.
#
# Each part lives in its own include file so that parts can change
# independently; they share this module's namespace.

cimport numpy as cnp
from libc.stdint cimport uint64_t
import warnings

import numpy as np

cnp.import_array()

include "_common.pxi"
include "_gemm.pxi"
include "_elementwise.pxi"
include "_network.pxi"
