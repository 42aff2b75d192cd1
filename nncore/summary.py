"""model.summary(): the table of layers, output shapes and parameter counts."""

from __future__ import annotations

import math

__all__ = ["summary_lines"]


def summary_lines(model, width: int) -> list:
    columns = (width * 45 // 100, width * 30 // 100)
    rows = []
    widths = model._layer_inputs() if model._input_dim is not None else {}
    for layer in model._layers:
        n_in = widths.get(layer)
        if n_in is None:
            shape, count = "?", "0 (unbuilt)"
        else:
            shape = str((None, layer._output_dim(n_in)))
            count = f"{sum(math.prod(s) for s in layer._weight_shapes(n_in)):,}"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, count))
    total = model.count_params()
    trainable = model._trainable_count()
    frozen = total - trainable
    optimizer_params = 0 if model._opt_state is None else int(model._opt_state.size)
    itemsize = model.dtype.itemsize

    def size(count):
        value = float(count * itemsize)
        for unit in ("B", "KB", "MB", "GB"):
            if value < 1024 or unit == "GB":
                return f"{value:.2f} {unit}"
            value /= 1024

    lines = [f'Model: "{model.name}" (dtype {model.dtype.name})', "_" * width]
    header = ("Layer (type)", "Output Shape", "Param #")
    lines.append(
        f"{header[0]:<{columns[0]}}{header[1]:<{columns[1]}}{header[2]:>{width - sum(columns)}}"
    )
    lines.append("=" * width)
    for i, (name, shape, count) in enumerate(rows):
        lines.append(f"{name:<{columns[0]}}{shape:<{columns[1]}}{count:>{width - sum(columns)}}")
        lines.append(("_" if i < len(rows) - 1 else "=") * width)
    if not rows:
        lines.append("=" * width)
    lines.append(f"Total params: {total:,} ({size(total)})")
    lines.append(f"Trainable params: {trainable:,} ({size(trainable)})")
    lines.append(f"Non-trainable params: {frozen:,} ({size(frozen)})")
    if optimizer_params:
        lines.append(f"Optimizer params: {optimizer_params:,} ({size(optimizer_params)})")
    lines.append("_" * width)
    return lines
