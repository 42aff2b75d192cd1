"""The command line, run as a user would: in a subprocess, on CSV files."""

import csv
import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest


def nncore_cli(*args):
    # run outside the repository: from its root, `-m nncore` would import the
    # source folder (no compiled extension) instead of the installed package
    return subprocess.run(
        [sys.executable, "-m", "nncore", *args],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=120,
    )


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_demo_learns_the_circles():
    done = nncore_cli("demo", "--epochs", "20", "--quiet")
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.split("held-out accuracy ")[1].split(",")[0])
    assert accuracy > 0.95
    assert "#" in done.stdout and "." in done.stdout  # the picture


def test_train_then_predict_classifier(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2)) * [10, 0.1] + [50, 3]  # unscaled on purpose
    label = np.where((x[:, 0] - 50) / 10 + (x[:, 1] - 3) / 0.1 > 0, "yes", "no")
    data = tmp_path / "data.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{p:.6f}", f"{q:.6f}", c] for (p, q), c in zip(x, label)]
    )
    model = tmp_path / "m.nnc"
    done = nncore_cli(
        "train",
        str(data),
        "--target",
        "label",
        "--hidden",
        "8",
        "--epochs",
        "200",
        "--quiet",
        "-o",
        str(model),
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "pred.csv"
    done = nncore_cli("predict", str(model), str(data), "-o", str(out))
    assert done.returncode == 0, done.stderr
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["a", "b", "label", "label_predicted"]
    predicted = np.array([r[-1] for r in rows[1:]])
    assert set(predicted) <= {"yes", "no"}
    assert (predicted == label).mean() > 0.9


def test_train_regression_on_raw_scale(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, (400, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 1000
    data = tmp_path / "reg.csv"
    write_csv(data, ["x1", "x2", "y"], np.column_stack([x, y]).tolist())
    model = tmp_path / "r.nnc"
    done = nncore_cli(
        "train",
        str(data),
        "--target",
        "y",
        "--hidden",
        "",
        "--epochs",
        "200",
        "--quiet",
        "-o",
        str(model),
    )
    assert done.returncode == 0, done.stderr
    done = nncore_cli("predict", str(model), str(data))
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(done.stdout.splitlines()))
    predicted = np.array([float(r[-1]) for r in rows[1:]])
    assert np.abs(predicted - y).max() < 5.0


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty"),
        ("a,b\n", "no data rows"),
        ("a,b\n1,2\n3\n", "line 3"),
        ("a,b\n1,x\n", "column 'b' must be numeric"),
    ],
)
def test_bad_csv_gets_a_clear_error(tmp_path, content, words):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    done = nncore_cli("train", str(data), "--target", "a", "--quiet")
    assert done.returncode == 1
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_target_and_missing_file(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    done = nncore_cli("train", str(data), "--target", "zzz")
    assert done.returncode == 1 and "--target 'zzz'" in done.stderr
    done = nncore_cli("predict", str(tmp_path / "none.nnc"), str(data))
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_bench_measures_nncore():
    done = nncore_cli("bench", "--net", "tiny", "--peer", "nncore")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["train"] > 0 and result["predict_1"] > 0 and result["predict_4096"] > 0


def test_bench_keeps_the_best_of_each_figure_over_its_rounds():
    from nncore.benchmarks import best_of

    slow = {"train": 100.0, "predict_1": 2e-6, "predict_4096": 5e5}
    fast = {"train": 150.0, "predict_1": 3e-6, "predict_4096": 4e5}
    assert best_of(slow, fast) == {"train": 150.0, "predict_1": 2e-6, "predict_4096": 5e5}
    assert best_of(None, fast) == fast and best_of(slow, None) == slow  # a failed round
    for one_peer in ([], ["--net", "tiny", "--peer", "nncore"]):
        done = nncore_cli("bench", "--rounds", "0", *one_peer)
        assert done.returncode == 2 and "--rounds must be at least 1" in done.stderr
