"""Work split over threads, and one model used from several Python threads.

The optimizer splits its flat buffer over the OpenMP threads from 65536
parameters on; the sizes here sit just past each boundary of that split
(n = 64 * parts * q + r), where a chunk rounded the wrong way leaves the last
r parameters untouched. A model behind a threaded server must give every
caller its own answer: predict and evaluate run at once on several threads,
and fit excludes other threads instead of letting them read weights that
change under them.
"""

import threading

import numpy as np
import pytest

import nncore
from nncore import _core, kernels

from .test_optimizers import CASES

SPLIT_MIN = 65536  # NC_OPTIMIZER_PARALLEL_MIN in csrc/optim.c


def sizes_past_the_split_boundaries():
    sizes = {SPLIT_MIN - 1, SPLIT_MIN, SPLIT_MIN + 1}
    for parts in (2, 3):
        q = SPLIT_MIN // (64 * parts) + 1
        for r in (1, parts - 1, parts, 63, 64, 65):
            sizes.add(64 * parts * q + r)
    return sorted(sizes)


class threads_set_to:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = kernels.get_num_threads()
        kernels.set_num_threads(self.n)

    def __exit__(self, *exc):
        kernels.set_num_threads(self.before)


@pytest.mark.parametrize("opt", CASES, ids=lambda o: f"{o['kind']}-{o['momentum']}")
def test_every_parameter_is_updated_on_any_thread_count(rng, opt):
    slots = _core.optimizer_state_slots(opt["kind"])
    for size in sizes_past_the_split_boundaries():
        w0 = rng.standard_normal(size).astype(np.float32)
        g = rng.uniform(0.5, 1.5, size).astype(np.float32)  # no zero gradient
        want = w0.copy()
        _core.optimizer_step_ranges(
            dict(opt), want, g, np.zeros(slots * size, np.float32), [(0, size)], True
        )
        for threads in (1, 2, 3):
            w = w0.copy()
            with threads_set_to(threads):
                _core.optimizer_step(dict(opt), w, g, np.zeros(slots * size, np.float32))
            assert np.all(w != w0), (size, threads, np.flatnonzero(w == w0)[:5])
            np.testing.assert_array_equal(w, want, err_msg=f"size {size}, {threads} threads")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ranges_update_only_their_parameters_on_any_thread_count(rng, dtype):
    opt = CASES[5]  # adamw: the weight decay must not touch frozen parts either
    size = 64 * 3 * 400 + 2
    ranges = [(0, 10), (10, 1000), (5000, 70001), (70010, size - 1)]
    inside = np.zeros(size, bool)
    for begin, end in ranges:
        inside[begin:end] = True
    w0 = rng.standard_normal(size).astype(dtype)
    g = rng.uniform(0.5, 1.5, size).astype(dtype)
    state0 = rng.uniform(0.1, 1, 2 * size).astype(dtype)
    want, want_state = w0.copy(), state0.copy()
    o = dict(opt)
    _core.optimizer_step_ranges(o, want, g, want_state, ranges, True)
    assert o["iterations"] == 1
    for threads in (1, 2, 3):
        w, state, o = w0.copy(), state0.copy(), dict(opt)
        with threads_set_to(threads):
            _core.optimizer_step_ranges(o, w, g, state, ranges)
        assert o["iterations"] == 1
        np.testing.assert_array_equal(w, want)
        np.testing.assert_array_equal(state, want_state)
        assert np.all(w[inside] != w0[inside])
        np.testing.assert_array_equal(w[~inside], w0[~inside])
        np.testing.assert_array_equal(state[:size][~inside], state0[:size][~inside])


@pytest.mark.parametrize(
    "ranges", [[(5, 3)], [(0, 10), (5, 20)], [(0, 101)]], ids=["reversed", "overlap", "outside"]
)
@pytest.mark.parametrize("reference", [False, True])
def test_bad_ranges_are_refused_without_a_step(ranges, reference):
    w = np.ones(100)
    opt = dict(CASES[0])
    with pytest.raises(ValueError):
        _core.optimizer_step_ranges(opt, w, np.ones(100), np.zeros(100), ranges, reference)
    assert opt["iterations"] == 0
    np.testing.assert_array_equal(w, 1.0)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_network_past_the_split_trains_its_last_parameters(threads):
    """512 -> 128 -> 1 has 65,793 parameters: the output bias is the last one."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 512)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = nncore.Sequential(
        [nncore.Dense(128, "relu", input_dim=512), nncore.Dense(1, "sigmoid")], seed=1
    )
    model.compile(loss="binary_crossentropy", optimizer="adam")
    assert model.count_params() == 65_793
    before = model.get_weights()
    with threads_set_to(threads):
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    after = model.get_weights()
    for w0, w1 in zip(before, after):
        assert np.all(w0 != w1) or w0.ndim == 2  # every bias entry moves
    assert after[-1][0] != 0.0
    if threads == 1:
        return
    serial = nncore.Sequential(
        [nncore.Dense(128, "relu", input_dim=512), nncore.Dense(1, "sigmoid")], seed=1
    )
    serial.compile(loss="binary_crossentropy", optimizer="adam")
    with threads_set_to(1):
        serial.fit(x, y, epochs=1, batch_size=64, verbose=0)
    for a, b in zip(serial.get_weights(), after):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------ several Python threads


def _classifier(seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3000, 20)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.float32)
    model = nncore.Sequential(
        [
            nncore.Dense(64, "relu", input_dim=20),
            nncore.Dense(32, "tanh"),
            nncore.Dense(1, "sigmoid"),
        ],
        seed=seed,
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    return model, x, y


def _run_threads(target, count):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_predict_and_evaluate_from_many_threads_give_every_caller_its_answer():
    model, x, y = _classifier()
    sizes = [500, 3000, 1, 1700, 2999, 7, 1024, 1025]
    want = {n: model.predict(x[:n]) for n in sizes}
    want_eval = model.evaluate(x, y, batch_size=256)
    wrong = []

    def work(i):
        for round_ in range(6):
            n = sizes[(i + round_) % len(sizes)]
            got = model.predict(x[:n])
            if not np.array_equal(got, want[n]):
                wrong.append((i, n))
            if round_ % 3 == 0 and model.evaluate(x, y, batch_size=256) != want_eval:
                wrong.append((i, "evaluate"))

    _run_threads(work, 8)
    assert not wrong


def test_fit_refuses_other_threads_and_never_mixes_weights():
    model, x, y = _classifier()
    started, release = threading.Event(), threading.Event()
    outcomes = {}

    class Pause(nncore.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            # the fitting thread itself may read its model from callbacks
            self.model.predict(x[:5])
            started.set()
            release.wait(30)

    def fit():
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[Pause()])

    fitter = threading.Thread(target=fit)
    fitter.start()
    assert started.wait(30)
    for name, call in [
        ("predict", lambda: model.predict(x[:10])),
        ("evaluate", lambda: model.evaluate(x, y)),
        ("fit", lambda: model.fit(x, y, epochs=1, verbose=0)),
        ("set_weights", lambda: model.set_weights([])),
        ("get_weights", lambda: model.get_weights()),
    ]:
        try:
            call()
            outcomes[name] = "ran"
        except RuntimeError as exc:
            outcomes[name] = str(exc)
    release.set()
    fitter.join(30)
    for name, outcome in outcomes.items():
        assert "another thread" in outcome, (name, outcome)
    # after fit returns, the other threads' calls work again
    model.predict(x[:10])


def test_fit_waits_for_reads_in_flight():
    model, x, y = _classifier()
    before = model.get_weights()
    reading, done_reading = threading.Event(), threading.Event()

    def reader():  # holds a read as a long predict would
        with model._guard.read("predict"):
            reading.set()
            done_reading.wait(30)

    holder = threading.Thread(target=reader)
    holder.start()
    assert reading.wait(30)
    fitter = threading.Thread(target=lambda: model.fit(x, y, epochs=1, verbose=0))
    fitter.start()
    fitter.join(0.3)
    assert fitter.is_alive()  # waiting for the read
    for w0, w1 in zip(before, [w for layer in model.layers for w in model._layer_weights(layer)]):
        np.testing.assert_array_equal(w0, w1)
    done_reading.set()
    fitter.join(30)
    holder.join(30)
    assert not fitter.is_alive()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
