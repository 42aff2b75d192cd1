# Networks: the whole training epoch, predict and loss+gradient, over
# csrc/mlp.c. The contract with nncore/models.py: Network below. Checks here
# keep the C calls memory-safe; the messages users read come from models.py.

from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_New
from libc.stdlib cimport calloc, free

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


def train_profile_start():
    """Zeroes the training loop's time profile and switches it on (a
    developer diagnostic: see nc_train_profile in csrc/nncore.h)."""
    nc_train_profile_start()


def train_profile_stop():
    """Switches the profile off and returns it: seconds per phase of
    Network.train_epoch summed over its batches since train_profile_start,
    the per-layer lists as long as the network with the most layers timed."""
    cdef nc_train_profile p
    nc_train_profile_stop(&p)
    cdef size_t n = NC_MAX_LAYERS
    while n > 0 and p.layer_forward[n - 1] == 0 and p.layer_backward[n - 1] == 0:
        n -= 1
    return {
        "batches": p.batches, "gather": p.gather, "forward": p.forward, "loss": p.loss,
        "backward": p.backward, "optimizer": p.optimizer, "rest": p.rest,
        "layer_forward": [p.layer_forward[i] for i in range(n)],
        "layer_backward": [p.layer_backward[i] for i in range(n)],
    }


cdef class _ProgressState:
    """What the C progress hook needs: the user's callable and the error it raised."""
    cdef object callback
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


cdef class Network:
    """A network description in C form, with its cached workspace.

    See /work/briefs/network-binding.md (the contract with models.py):
    Network(layers, loss, dtype, scaling="keras" or "sklearn" (nc_loss_scaling));
    n_params, dtype, n_in, n_out, from_logits,
    dense_slices(), train_epoch(...), predict(...), loss_grad(...), loss(...).
    """
    cdef nc_layer *layers
    cdef nc_network net
    cdef readonly object dtype
    cdef int _itemsize  # dtype.itemsize, read without a Python attribute lookup
    cdef list _dense
    cdef cnp.ndarray _workspace
    cdef size_t _workspace_bytes
    cdef size_t _workspace_batch
    cdef char *_workspace_ptr

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
        self.layers = <nc_layer *>calloc(len(layers), sizeof(nc_layer))
        if self.layers == NULL:
            raise MemoryError()
        cdef size_t offset = 0
        cdef nc_layer *layer
        self._dense = []
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
                layer.weight_offset = offset
                offset += layer.n_in * layer.n_out
                bias = None
                if layer.use_bias:
                    layer.bias_offset = offset
                    bias = offset
                    offset += layer.n_out
                self._dense.append((layer.weight_offset, (layer.n_in, layer.n_out), bias))
            elif kind == "activation":
                layer.kind = NC_LAYER_ACTIVATION
                layer.n_in = layer.n_out = _width(spec, "n", i)
                layer.activation = _code(ACTIVATION_CODES, spec.get("activation"), "activation")
                layer.activation_alpha = float(spec.get("alpha", 0.0))
            elif kind == "dropout":
                layer.kind = NC_LAYER_DROPOUT
                layer.n_in = layer.n_out = _width(spec, "n", i)
                layer.dropout_rate = float(spec.get("rate", 0.0))
            else:
                raise ValueError(f"layer {i}: unknown kind {kind!r}; expected 'dense', "
                                 "'activation' or 'dropout'")
        self.net.n_layers = len(layers)
        self.net.layers = self.layers
        self.net.n_params = offset
        self.net.loss = _code(LOSS_CODES, loss, "loss")
        self.net.scaling = _code(SCALING_CODES, scaling, "loss scaling")
        if nc_network_check(&self.net) != NC_OK:
            raise ValueError(
                "invalid network: layer widths must chain (each n_in equal to the previous "
                "n_out), activation and dropout layers keep their width, dropout rates lie in "
                "[0, 1), l2 >= 0 and max_norm >= 0, at most 256 layers"
            )
        self._workspace = None
        self._workspace_bytes = 0
        self._workspace_batch = 0

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

    def workspace_size(self, size_t batch_size):
        return nc_network_workspace_size(&self.net, batch_size, self.dtype.itemsize)

    cdef char *_workspace_for(self, size_t batch_size) except NULL:
        """A workspace for batches of batch_size, kept and grown as needed (64-byte aligned)."""
        if batch_size <= self._workspace_batch and self._workspace is not None:
            return self._workspace_ptr
        cdef size_t needed = nc_network_workspace_size(&self.net, batch_size, self.dtype.itemsize)
        if needed == <size_t>-1:
            raise MemoryError(f"a batch of {batch_size} rows needs more memory than can be addressed")
        if needed > self._workspace_bytes or self._workspace is None:
            self._workspace = np.empty(needed + 64, dtype=np.uint8)
            start = <char *>data_of(self._workspace)
            self._workspace_ptr = start + (-<size_t>start) % 64
            self._workspace_bytes = needed
            self._workspace_batch = batch_size
        return self._workspace_ptr

    # -------------------------------------------------------------- checks
    # (C-level numpy checks: predict on one row must cost little more than the call)
    cdef int _type_num(self):
        return cnp.NPY_FLOAT32 if self._itemsize == 4 else cnp.NPY_FLOAT64

    cdef _vector(self, a, str name, size_t length):
        cdef cnp.ndarray arr
        if cnp.PyArray_Check(a):
            arr = <cnp.ndarray>a
            if (cnp.PyArray_TYPE(arr) == self._type_num() and cnp.PyArray_NDIM(arr) == 1
                    and cnp.PyArray_IS_C_CONTIGUOUS(arr)
                    and <size_t>cnp.PyArray_DIM(arr, 0) == length):
                return
        raise ValueError(f"{name} must be a C-contiguous 1-D {self.dtype} array of "
                         f"length {length}; got {_shape_of(a)}")

    cdef _matrix(self, a, str name, size_t width):
        cdef cnp.ndarray arr
        cdef Py_ssize_t itemsize = self._itemsize
        if cnp.PyArray_Check(a):
            arr = <cnp.ndarray>a
            if (cnp.PyArray_TYPE(arr) == self._type_num() and cnp.PyArray_NDIM(arr) == 2
                    and <size_t>cnp.PyArray_DIM(arr, 1) == width
                    and (cnp.PyArray_STRIDE(arr, 1) == itemsize or width == 1)
                    and cnp.PyArray_STRIDE(arr, 0) % itemsize == 0):
                return
        raise ValueError(f"{name} must be a 2-D {self.dtype} array with {width} columns "
                         f"and unit column stride; got {_shape_of(a)}")

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

    # ------------------------------------------------------------ training
    def train_epoch(self, params, grads, opt_state, dict optimizer, x, y, sample_weight,
                    order, batch_size, seed, metrics, progress=None, progress_interval=0.1):
        cdef size_t n_params = self.net.n_params
        self._vector(params, "params", n_params)
        self._vector(grads, "grads", n_params)
        cdef nc_optimizer opt
        opt.kind = _code(OPTIMIZER_CODES, optimizer["kind"], "optimizer kind")
        opt.learning_rate = optimizer["learning_rate"]
        opt.momentum = optimizer["momentum"]
        opt.nesterov = bool(optimizer["nesterov"])
        opt.beta_1, opt.beta_2 = optimizer["beta_1"], optimizer["beta_2"]
        opt.epsilon, opt.rho = optimizer["epsilon"], optimizer["rho"]
        opt.weight_decay = optimizer["weight_decay"]
        opt.iterations = optimizer["iterations"]
        self._vector(opt_state, "opt_state", nc_optimizer_state_slots(opt.kind) * n_params)
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
        if len(metrics) > MAX_METRICS:
            raise ValueError(f"at most {MAX_METRICS} metrics")
        cdef nc_metric metric_codes[8]
        for k, name in enumerate(metrics):
            metric_codes[k] = _code(METRIC_CODES, name, "metric")

        state = _ProgressState()
        state.callback = progress
        cdef nc_train_options options
        options.batch_size = batch_size
        options.order = <size_t *>data_of(order) if order is not None else NULL
        options.seed = <uint64_t>seed
        options.metrics = metric_codes
        options.n_metrics = len(metrics)
        options.progress = _progress_hook
        options.progress_ctx = <void *>state
        options.progress_interval_seconds = progress_interval
        cdef size_t effective_batch = min(batch_size, n) if n else 1
        cdef char *workspace = self._workspace_for(effective_batch)
        cdef size_t workspace_bytes = self._workspace_bytes
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
        if self.dtype == np.float32:
            with nogil:
                status = nc_network_train_epoch_f32(
                    &self.net, &opt, <float *>p, <float *>g, <float *>s, n, <float *>px, x_rs,
                    <float *>py, y_stride, <float *>pw, &options, workspace, workspace_bytes,
                    &result)
        else:
            with nogil:
                status = nc_network_train_epoch_f64(
                    &self.net, &opt, <double *>p, <double *>g, <double *>s, n, <double *>px,
                    x_rs, <double *>py, y_stride, <double *>pw, &options, workspace,
                    workspace_bytes, &result)
        optimizer["iterations"] = opt.iterations
        if status == NC_ERR_INTERRUPTED and state.error is not None:
            raise state.error
        if status == NC_ERR_NONFINITE:
            raise FloatingPointError(
                f"the loss became {result.last_loss} at batch {result.batches_done + 1} of "
                f"this epoch; that batch's update was not applied")
        if status != NC_ERR_INTERRUPTED:
            raise_for_status(status, "train_epoch")
        return {
            "loss": result.loss_sum / result.weight_sum if result.weight_sum else float("nan"),
            "metrics": {name: (result.metric_sums[k] / result.metric_counts[k]
                               if result.metric_counts[k] else float("nan"))
                        for k, name in enumerate(metrics)},
            "batches": result.batches_done,
            "samples": result.samples_done,
            "stopped": status == NC_ERR_INTERRUPTED,
        }

    # ----------------------------------------------------------- inference
    def predict(self, params, x, batch_size=None, bint check_finite=False):
        """Outputs for the rows of x; with check_finite, ValueError on NaN/inf in x."""
        self._vector(params, "params", self.net.n_params)
        self._matrix(x, "x", self.layers[0].n_in)
        cdef size_t n = <size_t>cnp.PyArray_DIM(<cnp.ndarray>x, 0)
        cdef int finite = 1
        cdef ptrdiff_t x_row = stride_of(<cnp.ndarray>x, 0)
        cdef void *px_check = data_of(<cnp.ndarray>x)
        cdef bint single = self._itemsize == 4
        if check_finite:
            with nogil:
                if single:
                    finite = nc_all_finite_f32(n, self.layers[0].n_in, <float *>px_check, x_row)
                else:
                    finite = nc_all_finite_f64(n, self.layers[0].n_in, <double *>px_check, x_row)
            if not finite:
                raise ValueError("x contains NaN or infinity")
        cdef size_t batch = batch_size if batch_size else max(1, min(n, 1024))
        cdef cnp.npy_intp dims[2]
        dims[0], dims[1] = n, self.layers[self.net.n_layers - 1].n_out
        out = cnp.PyArray_EMPTY(2, dims, self._type_num(), 0)
        cdef char *workspace = self._workspace_for(batch)
        cdef size_t workspace_bytes = self._workspace_bytes
        cdef void *p = data_of(params)
        cdef void *px = data_of(x)
        cdef void *po = data_of(out)
        cdef ptrdiff_t x_rs = stride_of(<cnp.ndarray>x, 0)
        cdef ptrdiff_t out_rs = dims[1]
        cdef nc_status status
        if single:
            with nogil:
                status = nc_network_predict_f32(&self.net, <float *>p, n, <float *>px, x_rs,
                                                <float *>po, out_rs, batch, workspace,
                                                workspace_bytes)
        else:
            with nogil:
                status = nc_network_predict_f64(&self.net, <double *>p, n, <double *>px, x_rs,
                                                <double *>po, out_rs, batch, workspace,
                                                workspace_bytes)
        raise_for_status(status, "predict")
        return out

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
        cdef char *workspace = self._workspace_for(n)
        cdef size_t workspace_bytes = self._workspace_bytes
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
        if self.dtype == np.float32:
            with nogil:
                status = nc_network_loss_grad_f32(
                    &self.net, <float *>p, <float *>g, n, <float *>px, x_rs, <float *>py,
                    y_stride, <float *>pw, train, c_seed, workspace, workspace_bytes, &loss)
        else:
            with nogil:
                status = nc_network_loss_grad_f64(
                    &self.net, <double *>p, <double *>g, n, <double *>px, x_rs, <double *>py,
                    y_stride, <double *>pw, train, c_seed, workspace, workspace_bytes, &loss)
        raise_for_status(status, "loss_grad")
        return loss, grads

    def loss(self, params, x, y, sample_weight=None, batch_size=None):
        """Mean loss (with the l2 penalties) over all rows, in chunks, dropout off."""
        cdef size_t n = x.shape[0]
        if n == 0:
            raise ValueError("x must have at least one row")
        chunk = batch_size if batch_size else min(n, 4096)
        total = 0.0
        for start in range(0, n, chunk):
            rows = slice(start, start + chunk)
            weights = None if sample_weight is None else sample_weight[rows]
            value, _ = self.loss_grad(params, x[rows], y[rows], weights)
            total += value * min(chunk, n - start)
        return total / n


cdef size_t _width(dict spec, str key, index) except 0:
    value = spec.get(key)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"layer {index}: {key} must be an integer >= 1; got {value!r}")
    return value


cdef str _shape_of(a):
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype}, shape {a.shape}, strides {a.strides}"
    return type(a).__name__
