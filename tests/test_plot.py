"""nncore.plot: figures made from a History and from a 2-input network."""

import io

import numpy as np
import pytest

import nncore

pytest.importorskip("matplotlib")


def png_bytes(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    return data


def blobs(n=200, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.5, (n, 2)) + np.column_stack([np.cos(y * 2.1), np.sin(y * 2.1)]) * 2
    return x.astype(np.float32), y


def fitted(last, loss, y_of, metrics=("accuracy",)):
    x, y = blobs(classes=3 if last.units == 3 else 2)
    model = nncore.Sequential([nncore.Dense(8, "relu", input_dim=2), last], seed=0)
    model.compile(loss=loss, optimizer="adam", metrics=list(metrics))
    history = model.fit(x, y_of(x, y), epochs=5, validation_split=0.2, verbose=0)
    return model, history, x, y


def test_history_has_a_panel_per_quantity():
    model, history, _, _ = fitted(nncore.Dense(1, "sigmoid"), "binary_crossentropy", lambda x, y: y)
    figure = nncore.plot.history(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    assert [len(ax.lines) for ax in figure.axes] == [2, 2]  # training and validation
    np.testing.assert_allclose(figure.axes[0].lines[1].get_ydata(), history.history["val_loss"])
    png_bytes(figure)
    assert len(nncore.plot.history({"loss": [3, 2, 1]}).axes) == 1


@pytest.mark.parametrize("kind", ["binary", "classes", "value"])
def test_decision_boundary(kind):
    last, loss, target = {
        "binary": (nncore.Dense(1, "sigmoid"), "binary_crossentropy", lambda x, y: y),
        "classes": (nncore.Dense(3, "softmax"), "sparse_categorical_crossentropy", lambda x, y: y),
        "value": (nncore.Dense(1), "mse", lambda x, y: x[:, 0] * x[:, 1]),
    }[kind]
    model, _, x, y = fitted(last, loss, target, metrics=() if kind == "value" else ("accuracy",))
    names = ["a", "b", "c"] if kind == "classes" else None
    figure = nncore.plot.decision_boundary(model, x, y, class_names=names, feature_names=["u", "v"])
    ax = figure.axes[0]
    assert ax.get_xlabel() == "u" and ax.get_ylabel() == "v"
    png_bytes(figure)
    if kind == "classes":
        assert [t.get_text() for t in ax.get_legend().get_texts()] == names


def test_decision_boundary_refuses_what_it_cannot_draw():
    model = nncore.Sequential([nncore.Dense(1, "sigmoid", input_dim=3)])
    with pytest.raises(ValueError, match="X must have 2 columns"):
        nncore.plot.decision_boundary(model, np.zeros((5, 3)))
    model = nncore.Sequential([nncore.Dense(1, "sigmoid", input_dim=2)])
    with pytest.raises(ValueError, match="y must have one value per row"):
        nncore.plot.decision_boundary(model, np.zeros((5, 2)), [0, 1])
    with pytest.raises(ValueError, match="history must be"):
        nncore.plot.history({})


def test_plot_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot(1, 2, 2)
    model = nncore.Sequential([nncore.Dense(1, "sigmoid", input_dim=2)], seed=0)
    assert nncore.plot.decision_boundary(model, np.eye(2), ax=ax) is figure
