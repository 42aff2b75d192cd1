"""Pictures of training and of what a network learned (matplotlib: `nncore-kernels[plot]`).

    fig = nncore.plot.history(model.fit(...))           # loss (and metrics) per epoch
    fig = nncore.plot.decision_boundary(model, X, y)     # a 2-input network's answer over the plane
    fig.savefig("out.png")

Both return a matplotlib Figure made without pyplot (no window opens, no
global state); in a notebook it displays itself. Importing nncore.plot does not
import matplotlib: the functions do, and say how to install it if it is missing.
"""

from __future__ import annotations

import numpy as np

from nncore._validation import describe, float_array

__all__ = ["history", "decision_boundary"]

INSTALL_HINT = "nncore.plot needs matplotlib: pip install 'nncore-kernels[plot]'"


def require_matplotlib():
    """The matplotlib.figure module; ImportError with the install command when missing."""
    try:
        from matplotlib import figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return figure


def check_image_path(path) -> None:
    """ValueError unless matplotlib can write a file with this extension."""
    from pathlib import Path

    figure = require_matplotlib()
    suffix = Path(path).suffix.lstrip(".").lower()
    supported = figure.Figure().canvas.get_supported_filetypes()
    if suffix not in supported:
        raise ValueError(
            f"cannot write a picture to {str(path)!r}: the name must end in one of "
            f"{', '.join('.' + s for s in sorted(supported))}"
        )


def _new_figure(figure, size):
    if figure is not None:
        return figure
    return require_matplotlib().Figure(figsize=size, layout="constrained")


def history(history, *, figure=None):
    """The loss and each metric per epoch, training and validation side by side
    in one panel per quantity. `history`: what fit returns (a History), or a
    dict of per-epoch lists such as {"loss": [...], "val_loss": [...]}.
    figure: a matplotlib Figure or SubFigure to draw into (default: a new one)."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            f"history must be a History or a non-empty dict of per-epoch lists; "
            f"got {describe(history)}"
        )
    quantities = list(dict.fromkeys(key.removeprefix("val_") for key in logs))
    fig = _new_figure(figure, (4.5 * len(quantities), 3.6))
    axes = fig.subplots(1, len(quantities), squeeze=False)[0]
    for ax, quantity in zip(axes, quantities):
        for key, label, style in (
            (quantity, "training", "-"),
            (f"val_{quantity}", "validation", "--"),
        ):
            if key not in logs:
                continue
            values = float_array(logs[key], f"history[{key!r}]", ndim=1, allow_int=True)
            ax.plot(np.arange(1, len(values) + 1), values, style, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(quantity)
        ax.set_title(quantity)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def _output_kind(model) -> str:
    last = [layer for layer in model.layers if hasattr(layer, "activation")]
    activation = last[-1].activation if last else "linear"
    width = model.output_shape[1]
    if activation == "sigmoid" and width == 1:
        return "binary"
    if activation == "softmax":
        return "classes"
    if width != 1:
        raise ValueError(
            f"decision_boundary draws one output or a softmax; the model has {width} outputs"
        )
    return "value"


def _class_colors(n: int) -> list:
    import matplotlib

    if n > 20:
        raise ValueError(f"decision_boundary colours up to 20 classes; the model has {n}")
    return list(matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors[:n])


def decision_boundary(
    model, X, y=None, *, ax=None, resolution=200, feature_names=None, class_names=None
):
    """What a network with 2 inputs answers over the plane around the points X:
    the probability of class 1 with the 0.5 line (a sigmoid output), the
    class regions (softmax), or the value (any other single output), with the
    points of X on top, coloured by y (class indices or values) when given.
    ax: a matplotlib Axes to draw into (default: a new Figure). Returns the Figure."""
    x = float_array(X, "X", ndim=2, allow_int=True)
    if x.shape[1] != 2 or x.shape[0] == 0:
        raise ValueError(f"X must have 2 columns (the 2 inputs) and some rows; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("X must be finite")
    if model.input_shape is not None and model.input_shape[1] != 2:
        raise ValueError(
            f"decision_boundary needs a network with 2 inputs; it has {model.input_shape[1]}"
        )
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2; got {resolution}")
    kind = _output_kind(model)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y must have one value per row of X ({x.shape[0]}); got {y.shape[0]}")
    if ax is None:
        fig = _new_figure(None, (5.2, 4.4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure

    low, high = x.min(axis=0), x.max(axis=0)
    margin = np.where(high > low, (high - low) * 0.08, 1.0)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(model.dtype)
    out = model.predict(grid)
    names = feature_names or ["x1", "x2"]

    if kind == "binary":
        p = out[:, 0].reshape(gx.shape)
        shading = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
        label = f"P({class_names[1]})" if class_names else "P(class 1)"
        fig.colorbar(shading, ax=ax, label=label)
        point_map, value_range = "RdBu_r", (0, 1)
    elif kind == "classes":
        n = out.shape[1]
        class_colors = _class_colors(n)
        from matplotlib.colors import ListedColormap

        point_map, value_range = ListedColormap(class_colors), (-0.5, n - 0.5)
        regions = out.argmax(axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, regions, levels=np.arange(n + 1) - 0.5, cmap=point_map, alpha=0.45)
    else:
        v = out[:, 0].reshape(gx.shape)
        shading = ax.contourf(gx, gy, v, levels=20, cmap="viridis", alpha=0.8)
        fig.colorbar(shading, ax=ax, label="prediction")
        point_map, value_range = "viridis", (float(v.min()), float(v.max()))

    if y is None:
        ax.scatter(x[:, 0], x[:, 1], s=12, c="k", alpha=0.6)
    else:
        ax.scatter(
            x[:, 0],
            x[:, 1],
            c=y.astype(np.float64),
            cmap=point_map,
            vmin=value_range[0],
            vmax=value_range[1],
            s=14,
            edgecolors="k",
            linewidths=0.4,
        )
        if kind == "classes" and class_names:
            from matplotlib.lines import Line2D

            handles = [
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markerfacecolor=color,
                    markeredgecolor="k",
                    label=str(name),
                )
                for color, name in zip(class_colors, class_names)
            ]
            ax.legend(handles=handles, loc="best", fontsize="small")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("what the network answers")
    return fig
