"""Type stubs for the compiled module nncore._core (see _core.pyx and its .pxi parts)."""

from collections.abc import Callable
from typing import Any

import numpy as np

ACTIVATION_CODES: dict[str, int]
LOSS_CODES: dict[str, int]
METRIC_CODES: dict[str, int]
OPTIMIZER_CODES: dict[str, int]

def cpu_features() -> dict[str, bool | str]: ...
def set_kernel(name: str) -> None: ...
def all_finite(a: object) -> bool | None: ...
def permutation(n: int, seed: int, stream: int) -> np.ndarray: ...
def train_profile_start() -> None: ...
def train_profile_stop() -> dict[str, Any]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def gemm(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha: float, beta: float, reference: bool = ...
) -> None: ...
def gemm_public(
    a: Any,
    b: Any,
    c: Any,
    alpha: Any,
    beta: Any,
    trans_a: Any,
    trans_b: Any,
    out: Any,
    max_multiply_adds: float,
) -> np.ndarray | None: ...
def gemm_epilogue(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    alpha: float,
    beta: float,
    kind: str,
    activation: str,
    act_alpha: float = ...,
    bias: np.ndarray | None = ...,
    out: np.ndarray | None = ...,
    z: np.ndarray | None = ...,
    y: np.ndarray | None = ...,
    reference: bool = ...,
) -> None: ...
def activation_forward(
    x: np.ndarray, y: np.ndarray, name: str, alpha: float, reference: bool = ...
) -> None: ...
def activation_backward(
    x: np.ndarray,
    y: np.ndarray,
    dy: np.ndarray,
    dx: np.ndarray,
    name: str,
    alpha: float,
    reference: bool = ...,
) -> None: ...
def loss_value(
    p: np.ndarray,
    t: np.ndarray,
    name: str,
    from_logits: bool,
    sample_weight: np.ndarray | None,
    reference: bool = ...,
) -> float: ...
def loss_gradient(
    p: np.ndarray,
    t: np.ndarray,
    name: str,
    from_logits: bool,
    sample_weight: np.ndarray | None,
    grad: np.ndarray,
    reference: bool = ...,
) -> None: ...
def loss_value_gradient(
    p: np.ndarray,
    t: np.ndarray,
    name: str,
    from_logits: bool,
    sample_weight: np.ndarray | None,
    grad: np.ndarray,
    prob: np.ndarray | None = ...,
    reference: bool = ...,
) -> float: ...
def bias_add(bias: np.ndarray, y: np.ndarray, reference: bool = ...) -> None: ...
def bias_grad(dy: np.ndarray, dbias: np.ndarray, beta: float, reference: bool = ...) -> None: ...
def batch_norm_stats(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, reference: bool = ...
) -> None: ...
def batch_norm_forward(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    epsilon: float,
    y: np.ndarray,
    reference: bool = ...,
) -> None: ...
def batch_norm_backward(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    gamma: np.ndarray | None,
    epsilon: float,
    batch_stats: bool,
    dy: np.ndarray,
    dgamma: np.ndarray | None,
    dbeta: np.ndarray | None,
    dx: np.ndarray | None,
    reference: bool = ...,
) -> None: ...
def optimizer_step(
    optimizer: dict[str, Any],
    w: np.ndarray,
    g: np.ndarray,
    state: np.ndarray,
    reference: bool = ...,
) -> None: ...
def optimizer_state_slots(kind: str) -> int: ...

class Network:
    dtype: np.dtype
    def __init__(
        self, layers: list[dict[str, Any]], loss: str, dtype: Any, scaling: str = ...
    ) -> None: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_in(self) -> int: ...
    @property
    def n_out(self) -> int: ...
    @property
    def from_logits(self) -> bool: ...
    def c_network(self) -> Any: ...
    def dense_slices(self) -> list[tuple[int, tuple[int, int], int | None]]: ...
    def weight_slices(self) -> list[tuple[int, tuple[int, ...]]]: ...
    def workspace_size(self, batch_size: int) -> int: ...
    def train_epoch(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        opt_state: np.ndarray,
        optimizer: dict[str, Any],
        x: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        order: np.ndarray | None,
        batch_size: int,
        seed: int,
        metrics: list[str],
        progress: Callable[[int, int, float], Any] | None = ...,
        progress_interval: float = ...,
    ) -> dict[str, Any]: ...
    def predict(
        self,
        params: np.ndarray,
        x: np.ndarray,
        batch_size: int | None = ...,
        check_finite: bool = ...,
    ) -> np.ndarray: ...
    def loss_grad(
        self,
        params: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = ...,
        training: bool = ...,
        seed: int = ...,
    ) -> tuple[float, np.ndarray]: ...
    def loss(
        self,
        params: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = ...,
        batch_size: int | None = ...,
    ) -> float: ...
