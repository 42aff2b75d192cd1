# Networks: the whole training epoch, evaluation, predict and loss+gradient,
# over csrc/mlp.c. The contract with nncore/models.py: Network below. Checks
# here keep the C calls memory-safe; the messages users read come from
# models.py.
#
# Threads: a Network keeps no state that one call hands to the next except a
# spare workspace, taken and given back in a critical section (the object's
# lock on a free-threaded Python, nothing more than the GIL on others), so
# calls on one Network may run at once on several threads (the GIL is
# released inside). What reads and what writes a model's parameters is
# ordered by AccessGuard.

cimport cython
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport PyThread_get_thread_ident
from libc.stdlib cimport calloc, free, malloc
import math
import time

ACTIVATION_CODES = {
    "linear": NC_ACT_LINEAR, "relu": NC_ACT_RELU, "leaky_relu": NC_ACT_LEAKY_RELU,
    "elu": NC_ACT_ELU, "sigmoid": NC_ACT_SIGMOID, "tanh": NC_ACT_TANH,
    "softplus": NC_ACT_SOFTPLUS, "gelu": NC_ACT_GELU, "softmax": NC_ACT_SOFTMAX,
}
LOSS_CODES = {
    "mse": NC_LOSS_MSE, "mae": NC_LOSS_MAE, "huber": NC_LOSS_HUBER,
    "poisson": NC_LOSS_POISSON, "binary_crossentropy": NC_LOSS_BINARY_CROSSENTROPY,
    "categorical_crossentropy": NC_LOSS_CATEGORICAL_CROSSENTROPY,
    "sparse_categorical_crossentropy": NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
}
METRIC_CODES = {
    "binary_accuracy": NC_METRIC_BINARY_ACCURACY,
    "categorical_accuracy": NC_METRIC_CATEGORICAL_ACCURACY,
    "sparse_categorical_accuracy": NC_METRIC_SPARSE_CATEGORICAL_ACCURACY,
    "mse": NC_METRIC_MSE, "mae": NC_METRIC_MAE,
    "precision": NC_METRIC_PRECISION, "recall": NC_METRIC_RECALL,
    "true_positives": NC_METRIC_TRUE_POSITIVES, "false_positives": NC_METRIC_FALSE_POSITIVES,
    "true_negatives": NC_METRIC_TRUE_NEGATIVES, "false_negatives": NC_METRIC_FALSE_NEGATIVES,
    "auc": NC_METRIC_AUC, "root_mean_squared_error": NC_METRIC_ROOT_MEAN_SQUARED_ERROR,
}
# The settings a metric may carry (a metric is its C name, or a pair of that
# name and a tuple of (setting, value) pairs) and their values when not given.
METRIC_SETTINGS = {
    "threshold": 0.5, "num_thresholds": 200, "curve": "ROC", "summation_method": "interpolation",
}
AUC_CURVES = {"ROC": NC_AUC_ROC, "PR": NC_AUC_PR}
AUC_SUMMATIONS = {
    "interpolation": NC_AUC_INTERPOLATION, "minoring": NC_AUC_MINORING,
    "majoring": NC_AUC_MAJORING,
}
OPTIMIZER_CODES = {
    "sgd": NC_OPT_SGD, "adam": NC_OPT_ADAM, "adamw": NC_OPT_ADAMW, "rmsprop": NC_OPT_RMSPROP,
}
SCALING_CODES = {"keras": NC_SCALING_KERAS, "sklearn": NC_SCALING_SKLEARN}
CONSTRAINT_CODES = {
    None: NC_CONSTRAINT_NONE, "none": NC_CONSTRAINT_NONE,
    "non_neg": NC_CONSTRAINT_NON_NEG, "max_norm": NC_CONSTRAINT_MAX_NORM,
}
cdef size_t MAX_METRICS = 8


def optimizer_state_slots(str kind):
    """Slots of n_params elements the optimizer's state needs."""
    return nc_optimizer_state_slots(_code(OPTIMIZER_CODES, kind, "optimizer kind"))


cdef _code(dict table, name, str what):
    try:
        return table[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in table if k is not None)
        raise ValueError(f"unknown {what} {name!r}; expected one of {valid}") from None


cdef class _Profile:
    """The sums of one profiling run (nc_train_profile)."""
    cdef nc_train_profile sums


# The profile train_epoch adds to, or None. A developer diagnostic: epochs
# run on several threads at once while it is on add into it unsynchronised.
_active_profile = None


def train_profile_start():
    """Zeroes the training loop's time profile and switches it on (a
    developer diagnostic: see nc_train_profile in csrc/nncore.h)."""
    global _active_profile
    _active_profile = _Profile()


def train_profile_stop():
    """Switches the profile off and returns it: seconds per phase of
    Network.train_epoch summed over its batches since train_profile_start,
    the per-layer lists as long as the network with the most layers timed."""
    global _active_profile
    profile = _active_profile if _active_profile is not None else _Profile()
    _active_profile = None
    cdef nc_train_profile p = (<_Profile>profile).sums
    cdef size_t n = NC_MAX_LAYERS
    while n > 0 and p.layer_forward[n - 1] == 0 and p.layer_backward[n - 1] == 0:
        n -= 1
    return {
        "batches": p.batches, "gather": p.gather, "forward": p.forward, "loss": p.loss,
        "backward": p.backward, "optimizer": p.optimizer, "rest": p.rest,
        "layer_forward": [p.layer_forward[i] for i in range(n)],
        "layer_backward": [p.layer_backward[i] for i in range(n)],
    }


# Multiply-adds between two looks at pending signals in predict: tens of
# milliseconds of work, so a Ctrl-C is answered well within half a second.
cdef enum:
    _PREDICT_CHUNK_MULTIPLY_ADDS = 1 << 28


cdef class _ProgressState:
    """What the C hooks need: the user's callables and the first error one raised."""
    cdef object callback
    cdef object batch_begin
    cdef object batch_end
    cdef list metrics
    cdef object error


cdef int _progress_hook(void *ctx, size_t batches_done, size_t samples_done,
                        double loss_sum, double weight_sum) noexcept with gil:
    state = <_ProgressState>ctx
    try:
        PyErr_CheckSignals()  # Ctrl-C arrives here as KeyboardInterrupt
        if state.callback is not None:
            loss = loss_sum / weight_sum if weight_sum else float("nan")
            if state.callback(batches_done, samples_done, loss):
                return 1
    except BaseException as exc:
        state.error = exc
        return 1
    return 0


cdef dict _running_logs(const nc_epoch_result *r, list metrics):
    """The loss and metrics of the batches done so far, as Keras's batch logs."""
    logs = {"loss": r.loss_sum / r.weight_sum if r.weight_sum else float("nan")}
    for k, name in enumerate(metrics):
        logs[name] = r.metric_sums[k] / r.metric_counts[k] if r.metric_counts[k] else float("nan")
    return logs


cdef int _batch_begin_hook(void *ctx, size_t batch, const nc_epoch_result *so_far) noexcept with gil:
    state = <_ProgressState>ctx
    try:
        PyErr_CheckSignals()
        if state.batch_begin(batch):
            return 1
    except BaseException as exc:
        state.error = exc
        return 1
    return 0


cdef int _batch_end_hook(void *ctx, size_t batch, const nc_epoch_result *so_far) noexcept with gil:
    state = <_ProgressState>ctx
    try:
        PyErr_CheckSignals()
        if state.batch_end(batch, _running_logs(so_far, state.metrics)):
            return 1
    except BaseException as exc:
        state.error = exc
        return 1
    return 0


cdef class AccessGuard:
    """Orders the calls that read a model's parameters against those that
    write them, across threads.

    A writer (fit, set_weights, compile...) holds the guard for its whole
    call; the thread that holds it may also read and write (callbacks inside
    fit), other threads get a RuntimeError instead of weights that change
    under them. A writer waits for the reads other threads have in flight.
    Reads (predict, evaluate, get_weights, save) run at the same time as
    each other.
    """
    cdef unsigned long writer  # thread ident of the writer, 0: none
    cdef size_t depth          # nested writes of that thread
    cdef size_t readers        # reads in flight

    cdef int begin_read(self, str what) except -1:
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef bint refused = False
        with cython.critical_section(self):
            if self.writer != 0 and self.writer != me:
                refused = True
            else:
                self.readers += 1
        if refused:
            raise RuntimeError(
                f"{what}() was called while another thread is training or changing this "
                "model; call it after fit() returns, or use a copy of the model")
        return 0

    cdef void end_read(self) noexcept:
        with cython.critical_section(self):
            self.readers -= 1

    def read(self, str what):
        """Context manager form of begin_read/end_read, for Python callers."""
        return _GuardedRead(self, what)

    def begin_write(self, str what):
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef bint refused = False
        with cython.critical_section(self):
            if self.writer == me:
                self.depth += 1
                return
            if self.writer != 0:
                refused = True
            else:
                self.writer = me
                self.depth = 1
        if refused:
            raise RuntimeError(
                f"{what}() was called while another thread is training or changing this "
                "model; models are trained by one thread at a time")
        while True:  # the reads other threads started before this write
            with cython.critical_section(self):
                if self.readers == 0:
                    return
            time.sleep(0.0001)

    def end_write(self):
        with cython.critical_section(self):
            self.depth -= 1
            if self.depth == 0:
                self.writer = 0


cdef class _GuardedRead:
    cdef AccessGuard guard
    cdef str what

    def __cinit__(self, AccessGuard guard, str what):
        self.guard = guard
        self.what = what

    def __enter__(self):
        self.guard.begin_read(self.what)

    def __exit__(self, *exc):
        self.guard.end_read()
        return False


cdef class _Workspace:
    """A block of memory for one C call at a time, aligned to 64 bytes."""
    cdef void *raw
    cdef char *start
    cdef size_t size
    cdef size_t batch

    @staticmethod
    cdef _Workspace allocate(size_t size, size_t batch):
        cdef _Workspace ws = _Workspace.__new__(_Workspace)
        ws.raw = malloc(size + 64)
        if ws.raw == NULL:
            raise MemoryError(f"a workspace of {size} bytes could not be allocated")
        ws.start = <char *>ws.raw + (-<size_t>ws.raw) % 64
        ws.size = size
        ws.batch = batch
        return ws

    def __dealloc__(self):
        free(self.raw)


cdef class Network:
    """A network description in C form.

    Network(layers, loss, dtype, scaling="keras" or "sklearn" (nc_loss_scaling));
    n_params, dtype, n_in, n_out, from_logits, dense_slices(), weight_slices(), train_epoch(...),
    evaluate(...), predict(...), loss_grad(...), loss(...). Each call borrows a
    workspace: the spare one the Network keeps when it is free and big enough,
    else a new one.
    """
    cdef nc_layer *layers
    cdef nc_network net
    cdef readonly object dtype
    cdef int _itemsize  # dtype.itemsize, read without a Python attribute lookup
    cdef list _dense
    cdef list _slices
    cdef _Workspace _spare  # read and written in critical sections of self

    def __cinit__(self):
        self.layers = NULL

    def __dealloc__(self):
        free(self.layers)

    def __init__(self, layers, str loss, dtype, scaling="keras"):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}")
        self._itemsize = self.dtype.itemsize
        layers = list(layers)
        if not layers:
            raise ValueError("a network needs at least one layer")
        if self.layers != NULL:
            raise RuntimeError("a Network is initialised once")
        self.layers = <nc_layer *>calloc(len(layers), sizeof(nc_layer))
        if self.layers == NULL:
            raise MemoryError()
        cdef size_t offset = 0
        cdef nc_layer *layer
        self._dense = []
        self._slices = []
        for i, spec in enumerate(layers):
            layer = &self.layers[i]
            kind = spec.get("kind")
            if kind == "dense":
                layer.kind = NC_LAYER_DENSE
                layer.n_in, layer.n_out = _width(spec, "n_in", i), _width(spec, "n_out", i)
                layer.activation = _code(ACTIVATION_CODES, spec.get("activation", "linear"),
                                         "activation")
                layer.activation_alpha = float(spec.get("alpha", 0.0))
                layer.use_bias = bool(spec.get("use_bias", True))
                layer.l2 = float(spec.get("l2", 0.0))
                layer.constraint = _code(CONSTRAINT_CODES, spec.get("constraint"), "constraint")
                layer.max_norm = float(spec.get("max_norm", 0.0))
                layer.frozen = not spec.get("trainable", True)
                layer.weight_offset = offset
                offset += layer.n_in * layer.n_out
                bias = None
                if layer.use_bias:
                    layer.bias_offset = offset
                    bias = offset
                    offset += layer.n_out
                self._dense.append((layer.weight_offset, (layer.n_in, layer.n_out), bias))
                self._slices.append((layer.weight_offset, (layer.n_in, layer.n_out)))
                if layer.use_bias:
                    self._slices.append((layer.bias_offset, (layer.n_out,)))
            elif kind == "activation":
                layer.kind = NC_LAYER_ACTIVATION
                layer.n_in = layer.n_out = _width(spec, "n", i)
                layer.activation = _code(ACTIVATION_CODES, spec.get("activation"), "activation")
                layer.activation_alpha = float(spec.get("alpha", 0.0))
            elif kind == "dropout":
                layer.kind = NC_LAYER_DROPOUT
                layer.n_in = layer.n_out = _width(spec, "n", i)
                layer.dropout_rate = float(spec.get("rate", 0.0))
            elif kind == "batch_norm":
                # Keras's weight order: gamma, beta, moving_mean, moving_variance
                layer.kind = NC_LAYER_BATCH_NORM
                layer.n_in = layer.n_out = _width(spec, "n", i)
                layer.momentum = float(spec.get("momentum", 0.99))
                layer.epsilon = float(spec.get("epsilon", 1e-3))
                layer.scale = bool(spec.get("scale", True))
                layer.center = bool(spec.get("center", True))
                layer.frozen = not spec.get("trainable", True)
                if layer.scale:
                    layer.gamma_offset = offset
                    self._slices.append((offset, (layer.n_out,)))
                    offset += layer.n_out
                if layer.center:
                    layer.beta_offset = offset
                    self._slices.append((offset, (layer.n_out,)))
                    offset += layer.n_out
                layer.moving_mean_offset = offset
                layer.moving_variance_offset = offset + layer.n_out
                self._slices.append((offset, (layer.n_out,)))
                self._slices.append((offset + layer.n_out, (layer.n_out,)))
                offset += 2 * layer.n_out
            elif kind == "flatten":
                layer.kind = NC_LAYER_FLATTEN
                layer.n_in = layer.n_out = _width(spec, "n", i)
            else:
                raise ValueError(f"layer {i}: unknown kind {kind!r}; expected 'dense', "
                                 "'activation', 'dropout', 'batch_norm' or 'flatten'")
        self.net.n_layers = len(layers)
        self.net.layers = self.layers
        self.net.n_params = offset
        self.net.loss = _code(LOSS_CODES, loss, "loss")
        self.net.scaling = _code(SCALING_CODES, scaling, "loss scaling")
        if nc_network_check(&self.net) != NC_OK:
            raise ValueError(
                "invalid network: layer widths must chain (each n_in equal to the previous "
                "n_out), activation, dropout, batch_norm and flatten layers keep their width, "
                "dropout rates lie in [0, 1), l2 >= 0 and max_norm >= 0, momentum in [0, 1] "
                "and epsilon >= 0, at most 256 layers"
            )

    @property
    def n_params(self):
        return self.net.n_params

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[self.net.n_layers - 1].n_out

    @property
    def from_logits(self):
        return bool(nc_network_uses_logits(&self.net))

    def c_network(self):
        """The C description as a PyCapsule named "nncore.nc_network", valid while
        this object lives (nncore.cython_kernels.NetworkSnapshot copies it)."""
        return PyCapsule_New(&self.net, "nncore.nc_network", NULL)

    def dense_slices(self):
        """Per dense layer: (weight_offset, (n_in, n_out), bias_offset or None)."""
        return list(self._dense)

    def weight_slices(self):
        """(offset, shape) of every weight, layer by layer in the flat buffer's
        order: dense W then b; batch_norm gamma, beta, moving_mean, moving_variance
        (gamma and beta when present)."""
        return list(self._slices)

    def workspace_size(self, size_t batch_size):
        return nc_network_workspace_size(&self.net, batch_size, self.dtype.itemsize)

    cdef _Workspace _borrow(self, size_t batch_size):
        """A workspace for batches of batch_size for one call: the spare one when it
        is free and big enough (the common case allocates nothing)."""
        cdef _Workspace ws = None
        with cython.critical_section(self):
            if self._spare is not None and self._spare.batch >= batch_size:
                ws = self._spare
                self._spare = None
        if ws is not None:
            return ws
        cdef size_t needed = nc_network_workspace_size(&self.net, batch_size, self._itemsize)
        if needed == <size_t>-1:
            raise MemoryError(f"a batch of {batch_size} rows needs more memory than can be addressed")
        return _Workspace.allocate(needed, batch_size)

    cdef void _give_back(self, _Workspace ws) noexcept:
        """Keeps ws as the spare unless a bigger one is kept already."""
        with cython.critical_section(self):
            if self._spare is None or self._spare.batch < ws.batch:
                self._spare = ws

    # -------------------------------------------------------------- checks
    # (C-level numpy checks: predict on one row must cost little more than the call)
    cdef int _type_num(self):
        return cnp.NPY_FLOAT32 if self._itemsize == 4 else cnp.NPY_FLOAT64

    cdef _vector(self, a, str name, size_t length, bint writable=False):
        cdef cnp.ndarray arr
        if cnp.PyArray_Check(a):
            arr = <cnp.ndarray>a
            if (cnp.PyArray_TYPE(arr) == self._type_num() and cnp.PyArray_NDIM(arr) == 1
                    and cnp.PyArray_IS_C_CONTIGUOUS(arr)
                    and <size_t>cnp.PyArray_DIM(arr, 0) == length
                    and (not writable or cnp.PyArray_ISWRITEABLE(arr))):
                return
        raise ValueError(f"{name} must be a C-contiguous{' writable' if writable else ''} "
                         f"1-D {self.dtype} array of length {length}; got {_shape_of(a)}")

    cdef _matrix(self, a, str name, size_t width):
        cdef cnp.ndarray arr
        cdef Py_ssize_t itemsize = self._itemsize
        if cnp.PyArray_Check(a):
            arr = <cnp.ndarray>a
            if (cnp.PyArray_TYPE(arr) == self._type_num() and cnp.PyArray_NDIM(arr) == 2
                    and <size_t>cnp.PyArray_DIM(arr, 1) == width
                    and (cnp.PyArray_STRIDE(arr, 1) == itemsize or width == 1)
                    and cnp.PyArray_STRIDE(arr, 0) % itemsize == 0
                    and (cnp.PyArray_STRIDE(arr, 0) >= 0 or cnp.PyArray_DIM(arr, 0) <= 1)):
                return
        raise ValueError(f"{name} must be a 2-D {self.dtype} array with {width} columns, "
                         f"unit column stride and a non-negative row stride; got {_shape_of(a)}")

    cdef tuple _targets(self, y, size_t n):
        """(y as an array, its row stride in elements), checked against the loss."""
        if self.net.loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
            if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
                y = np.ascontiguousarray(y[:, 0])
            self._vector(y, "y", n)
            return y, 1
        self._matrix(y, "y", self.n_out)
        if <size_t>y.shape[0] != n:
            raise ValueError(f"y must have {n} rows like x; got {y.shape[0]}")
        return y, y.strides[0] // y.itemsize

    cdef object _metric_codes(self, metrics, nc_metric *codes, nc_metric_params *params):
        """Fills codes and params for the metrics; returns the float64 array of
        their state between batches (None when they keep none)."""
        if len(metrics) > MAX_METRICS:
            raise ValueError(f"at most {MAX_METRICS} metrics")
        for k, metric in enumerate(metrics):
            name, settings = (metric, ()) if isinstance(metric, str) else metric
            codes[k] = _code(METRIC_CODES, name, "metric")
            given = dict(settings)
            unknown = set(given) - set(METRIC_SETTINGS)
            if unknown:
                raise ValueError(f"metric {name!r} has unknown settings {sorted(unknown)}")
            values = {**METRIC_SETTINGS, **given}
            threshold = values["threshold"]
            if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
                raise ValueError(f"metric {name!r}: threshold must be a finite number; got "
                                 f"{threshold!r}")
            params[k].threshold = threshold
            count = values["num_thresholds"]
            if not isinstance(count, int) or isinstance(count, bool) or not 2 <= count <= 1 << 24:
                raise ValueError(f"metric {name!r}: num_thresholds must be an integer from 2 "
                                 f"to 2**24; got {count!r}")
            params[k].num_thresholds = count
            params[k].curve = _code(AUC_CURVES, values["curve"], "AUC curve")
            params[k].summation = _code(AUC_SUMMATIONS, values["summation_method"],
                                        "AUC summation_method")
            if codes[k] >= NC_METRIC_PRECISION and self.net.loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
                raise ValueError(f"metric {name!r} needs one target per output; the sparse "
                                 "categorical loss has one class label per row")
        cdef size_t size = nc_metric_state_size(codes, params, len(metrics))
        return np.zeros(size, np.float64) if size else None

    # ------------------------------------------------------------ training
    def train_epoch(self, params, grads, opt_state, dict optimizer, x, y, sample_weight,
                    order, batch_size, seed, metrics, progress=None, progress_interval=0.1,
                    batch_begin=None, batch_end=None):
        """One epoch in C. batch_begin(batch) / batch_end(batch, logs), when given, are
        called around each batch (logs: the running loss and metrics of the epoch); a
        true return value stops the epoch after that batch."""
        cdef size_t n_params = self.net.n_params
        self._vector(params, "params", n_params, True)
        self._vector(grads, "grads", n_params, True)
        cdef nc_optimizer opt
        opt.kind = _code(OPTIMIZER_CODES, optimizer["kind"], "optimizer kind")
        fill_optimizer(&opt, optimizer)
        self._vector(opt_state, "opt_state", nc_optimizer_state_slots(opt.kind) * n_params, True)
        self._matrix(x, "x", self.n_in)
        cdef size_t n = x.shape[0]
        y, y_rs = self._targets(y, n)
        if sample_weight is not None:
            self._vector(sample_weight, "sample_weight", n)
        if order is not None:
            if (not isinstance(order, np.ndarray) or order.dtype != np.uintp or order.ndim != 1
                    or not order.flags.c_contiguous or <size_t>order.shape[0] != n):
                raise ValueError(f"order must be a C-contiguous uintp array of length {n}")
            if n and order.max() >= n:
                raise ValueError("order must hold row indexes below the number of rows")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        metrics = list(metrics)
        cdef nc_metric metric_codes[8]
        cdef nc_metric_params metric_params[8]
        metric_state = self._metric_codes(metrics, metric_codes, metric_params)

        state = _ProgressState()
        state.callback = progress
        state.batch_begin = batch_begin
        state.batch_end = batch_end
        state.metrics = metrics
        profile = _active_profile
        cdef nc_train_options options
        options.batch_size = batch_size
        options.order = <size_t *>data_of(order) if order is not None else NULL
        options.seed = <uint64_t>seed
        options.metrics = metric_codes
        options.n_metrics = len(metrics)
        options.metric_params = metric_params
        options.metric_state = <double *>data_of(metric_state) if metric_state is not None else NULL
        options.progress = _progress_hook
        options.progress_ctx = <void *>state
        options.progress_interval_seconds = progress_interval
        options.batch_begin = <nc_batch_fn>_batch_begin_hook if batch_begin is not None else <nc_batch_fn>NULL
        options.batch_end = <nc_batch_fn>_batch_end_hook if batch_end is not None else <nc_batch_fn>NULL
        options.batch_ctx = <void *>state
        options.profile = &(<_Profile>profile).sums if profile is not None else NULL
        cdef size_t effective_batch = min(batch_size, n) if n else 1
        cdef _Workspace ws = self._borrow(effective_batch)
        cdef nc_epoch_result result
        cdef void *p = data_of(params)
        cdef void *g = data_of(grads)
        cdef void *s = data_of(opt_state)
        cdef void *px = data_of(x)
        cdef void *py = data_of(y)
        cdef void *pw = data_of(sample_weight) if sample_weight is not None else NULL
        cdef ptrdiff_t x_rs = x.strides[0] // x.itemsize
        cdef ptrdiff_t y_stride = y_rs
        cdef nc_status status
        try:
            if self._itemsize == 4:
                with nogil:
                    status = nc_network_train_epoch_f32(
                        &self.net, &opt, <float *>p, <float *>g, <float *>s, n, <float *>px,
                        x_rs, <float *>py, y_stride, <float *>pw, &options, ws.start, ws.size,
                        &result)
            else:
                with nogil:
                    status = nc_network_train_epoch_f64(
                        &self.net, &opt, <double *>p, <double *>g, <double *>s, n,
                        <double *>px, x_rs, <double *>py, y_stride, <double *>pw, &options,
                        ws.start, ws.size, &result)
        finally:
            self._give_back(ws)
        optimizer["iterations"] = opt.iterations
        if status == NC_ERR_INTERRUPTED and state.error is not None:
            raise state.error
        if status == NC_ERR_NONFINITE:
            error = FloatingPointError(
                f"the loss became {result.last_loss} at batch {result.batches_done + 1} of "
                f"this epoch; that batch's update was not applied")
            # for fit's callbacks (TerminateOnNaN), as Keras's batch logs have them
            error.batch = result.batches_done
            error.loss = result.last_loss
            raise error
        if status != NC_ERR_INTERRUPTED:
            raise_for_status(status, "train_epoch")
        return _epoch_summary(&result, metrics, status == NC_ERR_INTERRUPTED)

    # ---------------------------------------------------------- evaluation
    def evaluate(self, params, x, y, sample_weight=None, batch_size=None, metrics=(),
                 batch_begin=None, batch_end=None, AccessGuard guard=None):
        """Loss (weighted by sample_weight, with the l2 penalties) and metrics over
        all rows in inference mode, in batches of batch_size (default: up to 4096):
        one C call, no backward pass. The hooks are train_epoch's."""
        self._vector(params, "params", self.net.n_params)
        self._matrix(x, "x", self.n_in)
        cdef size_t n = x.shape[0]
        if n == 0:
            raise ValueError("x must have at least one row")
        y, y_rs = self._targets(y, n)
        if sample_weight is not None:
            self._vector(sample_weight, "sample_weight", n)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        metrics = list(metrics)
        cdef nc_metric metric_codes[8]
        cdef nc_metric_params metric_params[8]
        metric_state = self._metric_codes(metrics, metric_codes, metric_params)
        state = _ProgressState()
        state.batch_begin = batch_begin
        state.batch_end = batch_end
        state.metrics = metrics
        cdef nc_eval_options options
        options.batch_size = batch_size if batch_size else min(n, 4096)
        options.metrics = metric_codes
        options.n_metrics = len(metrics)
        options.metric_params = metric_params
        options.metric_state = <double *>data_of(metric_state) if metric_state is not None else NULL
        options.batch_begin = <nc_batch_fn>_batch_begin_hook if batch_begin is not None else <nc_batch_fn>NULL
        options.batch_end = <nc_batch_fn>_batch_end_hook if batch_end is not None else <nc_batch_fn>NULL
        options.batch_ctx = <void *>state
        cdef nc_epoch_result result
        cdef void *p = data_of(params)
        cdef void *px = data_of(x)
        cdef void *py = data_of(y)
        cdef void *pw = data_of(sample_weight) if sample_weight is not None else NULL
        cdef ptrdiff_t x_rs = x.strides[0] // x.itemsize
        cdef ptrdiff_t y_stride = y_rs
        cdef nc_status status
        if guard is not None:
            guard.begin_read("evaluate")
        cdef _Workspace ws = None
        try:
            ws = self._borrow(min(options.batch_size, n))
            if self._itemsize == 4:
                with nogil:
                    status = nc_network_evaluate_f32(
                        &self.net, <float *>p, n, <float *>px, x_rs, <float *>py, y_stride,
                        <float *>pw, &options, ws.start, ws.size, &result)
            else:
                with nogil:
                    status = nc_network_evaluate_f64(
                        &self.net, <double *>p, n, <double *>px, x_rs, <double *>py, y_stride,
                        <double *>pw, &options, ws.start, ws.size, &result)
        finally:
            if ws is not None:
                self._give_back(ws)
            if guard is not None:
                guard.end_read()
        if status == NC_ERR_INTERRUPTED and state.error is not None:
            raise state.error
        if status != NC_ERR_INTERRUPTED:
            raise_for_status(status, "evaluate")
        return _epoch_summary(&result, metrics, status == NC_ERR_INTERRUPTED)

    def loss(self, params, x, y, sample_weight=None, batch_size=None):
        """Mean loss (with the l2 penalties) over all rows, dropout off."""
        return self.evaluate(params, x, y, sample_weight, batch_size)["loss"]

    # ----------------------------------------------------------- inference
    def predict(self, params, x, batch_size=None, bint check_finite=False,
                AccessGuard guard=None):
        """Outputs for the rows of x; with check_finite, ValueError on NaN/inf in x."""
        self._vector(params, "params", self.net.n_params)
        self._matrix(x, "x", self.layers[0].n_in)
        cdef size_t n = <size_t>cnp.PyArray_DIM(<cnp.ndarray>x, 0)
        cdef int finite = 1
        cdef ptrdiff_t x_rs = stride_of(<cnp.ndarray>x, 0)
        cdef void *px = data_of(<cnp.ndarray>x)
        cdef bint single = self._itemsize == 4
        if check_finite:
            with nogil:
                if single:
                    finite = nc_all_finite_f32(n, self.layers[0].n_in, <float *>px, x_rs)
                else:
                    finite = nc_all_finite_f64(n, self.layers[0].n_in, <double *>px, x_rs)
            if not finite:
                raise ValueError("x contains NaN or infinity")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        # By default batches of up to 1024 rows, fewer for a network so big that
        # a batch would take more than a chunk's work (see below).
        cdef size_t batch = batch_size if batch_size else max(1, min(
            n, 1024, max(64, _PREDICT_CHUNK_MULTIPLY_ADDS // max(1, self.net.n_params))))
        cdef cnp.npy_intp dims[2]
        dims[0], dims[1] = n, self.layers[self.net.n_layers - 1].n_out
        out = cnp.PyArray_EMPTY(2, dims, self._type_num(), 0)
        cdef void *p = data_of(params)
        cdef void *po = data_of(out)
        cdef ptrdiff_t out_rs = dims[1]
        cdef nc_status status = NC_OK
        # Many rows go through C a chunk of whole batches at a time (the same
        # batches, so the same bits), with a look at pending signals between
        # chunks: Ctrl-C stops a long predict after at most one chunk's work.
        cdef size_t chunk = batch * max(1, _PREDICT_CHUNK_MULTIPLY_ADDS
                                        // max(1, batch * self.net.n_params))
        cdef size_t start = 0, count
        if guard is not None:
            guard.begin_read("predict")
        cdef _Workspace ws = None
        try:
            ws = self._borrow(batch)
            while True:
                count = min(chunk, n - start)
                if single:
                    with nogil:
                        status = nc_network_predict_f32(
                            &self.net, <float *>p, count, <float *>px + <ptrdiff_t>start * x_rs,
                            x_rs, <float *>po + <ptrdiff_t>start * out_rs, out_rs, batch,
                            ws.start, ws.size)
                else:
                    with nogil:
                        status = nc_network_predict_f64(
                            &self.net, <double *>p, count,
                            <double *>px + <ptrdiff_t>start * x_rs, x_rs,
                            <double *>po + <ptrdiff_t>start * out_rs, out_rs, batch, ws.start,
                            ws.size)
                raise_for_status(status, "predict")
                start += count
                if start >= n:
                    return out
                PyErr_CheckSignals()
        finally:
            if ws is not None:
                self._give_back(ws)
            if guard is not None:
                guard.end_read()

    def loss_grad(self, params, x, y, sample_weight=None, training=False, seed=0):
        """(loss, gradient) over all rows of x as ONE batch."""
        self._vector(params, "params", self.net.n_params)
        self._matrix(x, "x", self.n_in)
        cdef size_t n = x.shape[0]
        if n == 0:
            raise ValueError("x must have at least one row")
        y, y_rs = self._targets(y, n)
        if sample_weight is not None:
            self._vector(sample_weight, "sample_weight", n)
        grads = np.empty(self.net.n_params, dtype=self.dtype)
        cdef void *p = data_of(params)
        cdef void *g = data_of(grads)
        cdef void *px = data_of(x)
        cdef void *py = data_of(y)
        cdef void *pw = data_of(sample_weight) if sample_weight is not None else NULL
        cdef ptrdiff_t x_rs = x.strides[0] // x.itemsize
        cdef ptrdiff_t y_stride = y_rs
        cdef int train = bool(training)
        cdef uint64_t c_seed = seed
        cdef double loss = 0
        cdef nc_status status
        cdef _Workspace ws = self._borrow(n)
        try:
            if self._itemsize == 4:
                with nogil:
                    status = nc_network_loss_grad_f32(
                        &self.net, <float *>p, <float *>g, n, <float *>px, x_rs, <float *>py,
                        y_stride, <float *>pw, train, c_seed, ws.start, ws.size, &loss)
            else:
                with nogil:
                    status = nc_network_loss_grad_f64(
                        &self.net, <double *>p, <double *>g, n, <double *>px, x_rs,
                        <double *>py, y_stride, <double *>pw, train, c_seed, ws.start, ws.size,
                        &loss)
        finally:
            self._give_back(ws)
        raise_for_status(status, "loss_grad")
        return loss, grads


cdef dict _epoch_summary(const nc_epoch_result *result, list metrics, bint stopped):
    logs = _running_logs(result, metrics)
    return {
        "loss": logs.pop("loss"),
        "metrics": logs,
        "batches": result.batches_done,
        "samples": result.samples_done,
        "stopped": stopped,
    }


def optimizer_step_ranges(dict optimizer, cnp.ndarray w, cnp.ndarray g, cnp.ndarray state,
                          ranges, bint reference=False):
    """One optimizer step over the [begin, end) pairs of `ranges` only (the
    trainable parts of a flat buffer); optimizer is train_epoch's dict, whose
    "iterations" advances."""
    cdef nc_optimizer opt
    opt.kind = _code(OPTIMIZER_CODES, optimizer["kind"], "optimizer kind")
    fill_optimizer(&opt, optimizer)
    cdef size_t n = w.shape[0] if w.ndim == 1 else 0
    for name, arr, length in (("w", w, n), ("g", g, n),
                              ("state", state, nc_optimizer_state_slots(opt.kind) * n)):
        if (arr.dtype != w.dtype or w.dtype not in (np.float32, np.float64) or arr.ndim != 1
                or not arr.flags.c_contiguous or <size_t>arr.shape[0] != length
                or (name != "g" and not arr.flags.writeable)):
            raise ValueError(f"{name} must be a C-contiguous 1-D float32 or float64 array "
                             f"of length {length} with w's dtype")
    pairs = np.ascontiguousarray(ranges, dtype=np.uintp)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"ranges must be a list of (begin, end) pairs; got shape {pairs.shape}")
    cdef size_t n_ranges = pairs.shape[0]
    cdef size_t *pr = <size_t *>data_of(pairs)
    cdef void *pw = data_of(w)
    cdef void *pg = data_of(g)
    cdef void *ps = data_of(state)
    cdef nc_status status
    cdef bint single = w.dtype == np.float32
    with nogil:
        if single and reference:
            status = nc_optimizer_step_ranges_f32_ref(&opt, n, <float *>pw, <float *>pg,
                                                      <float *>ps, n_ranges, pr)
        elif single:
            status = nc_optimizer_step_ranges_f32(&opt, n, <float *>pw, <float *>pg,
                                                  <float *>ps, n_ranges, pr)
        elif reference:
            status = nc_optimizer_step_ranges_f64_ref(&opt, n, <double *>pw, <double *>pg,
                                                      <double *>ps, n_ranges, pr)
        else:
            status = nc_optimizer_step_ranges_f64(&opt, n, <double *>pw, <double *>pg,
                                                  <double *>ps, n_ranges, pr)
    raise_for_status(status, "optimizer_step_ranges")
    optimizer["iterations"] = opt.iterations


cdef size_t _width(dict spec, str key, index) except 0:
    value = spec.get(key)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"layer {index}: {key} must be an integer >= 1; got {value!r}")
    return value


cdef str _shape_of(a):
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype}, shape {a.shape}, strides {a.strides}"
    return type(a).__name__
