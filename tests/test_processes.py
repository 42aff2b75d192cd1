"""Processes and signals: a forked child and multiprocessing workers train and
predict after nncore's threads have run in the parent; Ctrl-C stops a long fit,
a big predict and a big GEMM within half a second and leaves the model usable.

Everything that could hang or crash runs in a child process with a timeout, so
a regression fails the test instead of hanging the suite."""

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

TIMEOUT = 120  # seconds; the scripts take a few on a busy machine

COMMON = """
import os, sys, time
import numpy as np
import nncore
from nncore import kernels

kernels.set_num_threads(2)


def problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 32)).astype(np.float32)
    y = (x[:, :1] * 0.5 - x[:, 1:2]).astype(np.float32)
    return x, y


def trained():
    x, y = problem()
    model = nncore.Sequential(
        [nncore.Dense(128, "relu", input_dim=32), nncore.Dense(1)], seed=3
    )
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    return model


def work():
    # Threads run: a 2-thread fit, a GEMM and a predict big enough to go parallel.
    model = trained()
    a = np.random.default_rng(1).standard_normal((300, 300))
    return model.predict(problem()[0]), kernels.matmul(a, a)
"""


def run(tmp_path, script, timeout=TIMEOUT):
    """Runs COMMON + script as a file (spawned workers import it) in a fresh
    interpreter, outside the source tree; returns its output."""
    path = tmp_path / "script.py"
    path.write_text(COMMON + textwrap.dedent(script))
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_trains_and_predicts(tmp_path):
    out = run(
        tmp_path,
        """
        expected = work()  # in the parent, on 2 threads: its thread pool exists
        pid = os.fork()
        if pid == 0:
            try:
                got = work()
                same = all(np.array_equal(a, b) for a, b in zip(got, expected))
                os._exit(0 if same else 3)
            except BaseException:
                os._exit(4)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.01)
        else:
            os.kill(pid, 9)
            sys.exit("the forked child hung")
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert all(np.array_equal(a, b) for a, b in zip(work(), expected))  # parent still works
        print("ok")
        """,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_workers_train_and_predict(tmp_path, method):
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    out = run(
        tmp_path,
        f"""
        import multiprocessing


        def task(seed):
            model = trained()
            return seed, model.predict(problem()[0][:50])


        if __name__ == "__main__":
            expected = work()
            context = multiprocessing.get_context({method!r})
            with context.Pool(2) as pool:
                results = pool.map_async(task, range(2)).get(timeout=90)
            reference = trained().predict(problem()[0][:50])
            assert [seed for seed, _ in results] == list(range(2))
            assert all(np.array_equal(p, reference) for _, p in results)
            print("ok")
        """,
    )
    assert out.strip() == "ok"


INTERRUPTED = {
    "fit": """
        rng = np.random.default_rng(0)
        x = rng.standard_normal((20000, 64)).astype(np.float32)
        y = x[:, :1] - x[:, 1:2]
        model = nncore.Sequential(
            [nncore.Dense(256, "relu", input_dim=64), nncore.Dense(1)], seed=0
        )
        model.compile(loss="mse", optimizer="adam")
        model.fit(x[:64], y[:64], verbose=0)

        def long_call():
            model.fit(x, y, epochs=10000, batch_size=32, verbose=0)

        def still_usable():
            assert all(np.isfinite(w).all() for w in model.get_weights())
            model.fit(x[:256], y[:256], epochs=1, verbose=0)
            return np.isfinite(model.predict(x[:10])).all()
        """,
    "predict": """
        rng = np.random.default_rng(0)
        x = rng.standard_normal((60000, 128)).astype(np.float32)
        model = nncore.Sequential(
            [nncore.Dense(1024, "relu", input_dim=128), nncore.Dense(1024, "relu"),
             nncore.Dense(1)], seed=0
        )
        expected = model.predict(x[:3000])

        def long_call():
            for _ in range(100):
                model.predict(x)

        def still_usable():
            return np.array_equal(model.predict(x[:3000]), expected)
        """,
    "gemm": """
        rng = np.random.default_rng(0)
        a = rng.standard_normal((3000, 5000)).astype(np.float32)
        small = a[:300, :300]
        expected = kernels.matmul(small, small)

        def long_call():
            for _ in range(100):
                kernels.gemm(a, a, trans_b=True)

        def still_usable():
            return np.array_equal(kernels.matmul(small, small), expected)
        """,
}

INTERRUPT_DRIVER = """
print("running", flush=True)
try:
    long_call()
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
print("usable" if still_usable() else "broken", flush=True)
"""

RESPONSE_SECONDS = 0.5


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("call", sorted(INTERRUPTED))
def test_ctrl_c_stops_a_long_call_quickly_and_leaves_things_usable(tmp_path, call):
    path = tmp_path / "script.py"
    path.write_text(COMMON + textwrap.dedent(INTERRUPTED[call]) + INTERRUPT_DRIVER)
    child = subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in child.stdout])
    reader.start()
    try:
        assert lines.get(timeout=TIMEOUT) == "running\n"
        time.sleep(0.5)  # well inside the C call
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        answer = lines.get(timeout=TIMEOUT)
        response = time.monotonic() - sent
        assert answer == "interrupted\n"
        assert lines.get(timeout=TIMEOUT) == "usable\n"
        assert child.wait(timeout=TIMEOUT) == 0
    finally:
        child.kill()
        child.wait()
        reader.join()
        child.stderr.close()
    print(f"{call}: Ctrl-C answered in {response * 1000:.0f} ms")
    assert response < RESPONSE_SECONDS
