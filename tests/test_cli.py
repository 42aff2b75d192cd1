"""The command line, run as a user would: in a subprocess, on CSV files written here
the way pandas, spreadsheets and people write them."""

import csv
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import nncore


def nncore_cli(*args, env=None):
    # run outside the repository: from its root, `-m nncore` would import the
    # source folder (no compiled extension) instead of the installed package
    return subprocess.run(
        [sys.executable, "-m", "nncore", *args],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=180,
        env=env,
    )


def nncore_cli_all(commands):
    """Several command lines run at once, each in its own process, as nncore_cli runs one."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "nncore", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        for args in commands
    ]
    done = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def succeeded(done):
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def failed_with(done, words, status=1):
    """A user error: the given exit status and one line on standard error."""
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert words in lines[0], lines[0]


def write_csv(path, header, rows, **format_options):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, **format_options)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)


def read_csv(path_or_text, delimiter=","):
    if os.path.exists(str(path_or_text)):
        with open(path_or_text, newline="") as f:
            return list(csv.reader(f, delimiter=delimiter))
    return list(csv.reader(str(path_or_text).splitlines(), delimiter=delimiter))


def reported_accuracy(stdout):
    return float(re.search(r"accuracy ([0-9.]+) \(", stdout).group(1))


def separable(n, seed, shift=2.0):
    """Two features and a label that a line separates (with a margin)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) + shift * np.column_stack([label, -label])
    return x, label


def train(data, model, *options):
    return succeeded(nncore_cli("train", str(data), "-o", str(model), "--quiet", *options))


# ------------------------------------------------------------ the demo


def test_demo_learns_the_circles():
    done = succeeded(nncore_cli("demo", "--epochs", "20", "--quiet"))
    accuracy = float(done.stdout.split("held-out accuracy ")[1].split(",")[0])
    assert accuracy > 0.95
    assert "#" in done.stdout and "." in done.stdout  # the picture


# ---------------------------------------------------- kinds of files


def test_train_then_predict_classifier(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2)) * [10, 0.1] + [50, 3]  # unscaled on purpose
    label = np.where((x[:, 0] - 50) / 10 + (x[:, 1] - 3) / 0.1 > 0, "yes", "no")
    data = tmp_path / "data.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{p:.6f}", f"{q:.6f}", c] for (p, q), c in zip(x, label)]
    )
    model = tmp_path / "m.nnc"
    done = train(data, model, "--target", "label", "--hidden", "8", "--epochs", "200")
    assert "task: classification of 'label' into 2 classes (no, yes)" in done.stdout
    out = tmp_path / "pred.csv"
    succeeded(nncore_cli("predict", str(model), str(data), "-o", str(out)))
    rows = read_csv(out)
    assert rows[0] == ["a", "b", "label", "label_predicted"]
    # a failed predict leaves no partial file; -o may name the input itself
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n" + "1,2\n" * 5000 + "1,x\n")
    failed_with(
        nncore_cli("predict", str(model), str(bad), "-o", str(tmp_path / "p2.csv")), "line 5002"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.csv",
        "data.csv",
        "m.nnc",
        "pred.csv",
    ]
    succeeded(nncore_cli("predict", str(model), str(out), "-o", str(out)))
    assert read_csv(out)[0] == ["a", "b", "label", "label_predicted", "label_predicted_predicted"]
    predicted = np.array([r[-1] for r in rows[1:]])
    assert set(predicted) <= {"yes", "no"}
    assert (predicted == label).mean() > 0.9


def test_pandas_index_column_is_dropped_not_learned(tmp_path):
    # Sorted by label with an index column: a model using the index would score 1.0.
    rng = np.random.default_rng(2)
    n = 400
    label = np.repeat([0, 1], n // 2)
    noise = rng.standard_normal((n, 2))
    data = tmp_path / "pandas.csv"
    write_csv(data, ["", "u", "v", "label"], [[i, *noise[i].round(4), label[i]] for i in range(n)])
    model = tmp_path / "m.nnc"
    done = train(data, model, "--target", "label", "--epochs", "30")
    assert "column '' of" in done.stderr and "not used as a feature" in done.stderr
    assert reported_accuracy(done.stdout) < 0.8
    assert nncore.load_model(model).metadata["features"] == ["u", "v"]
    # predict works on the file with its index and on one without it
    without_index = tmp_path / "plain.csv"
    write_csv(without_index, ["u", "v"], noise[:5].round(4).tolist())
    done = succeeded(nncore_cli("predict", str(model), str(without_index)))
    assert len(read_csv(done.stdout)) == 6
    done = succeeded(nncore_cli("predict", str(model), str(data)))
    assert read_csv(done.stdout)[0] == ["", "u", "v", "label", "label_predicted"]


def test_semicolons_and_decimal_commas(tmp_path):
    x, label = separable(300, 3)
    names = np.array(["setosa", "virginica"])[label]
    data = tmp_path / "european.csv"
    with open(data, "w") as f:
        f.write("sepal length (cm);sepal width (cm);species\n")
        for (a, b), c in zip(x, names):
            f.write(f"{a:.3f};{b:.3f};{c}\n".replace(".", ","))
    model = tmp_path / "m.nnc"
    done = train(data, model, "--target", "species", "--epochs", "40")
    assert "separated by semicolons, decimal commas" in done.stderr
    assert reported_accuracy(done.stdout) > 0.9
    done = succeeded(nncore_cli("predict", str(model), str(data), "--proba"))
    rows = read_csv(done.stdout, delimiter=";")
    assert rows[0] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "species",
        "P(setosa)",
        "P(virginica)",
        "species_predicted",
    ]
    p_setosa = np.array([float(r[3].replace(",", ".")) for r in rows[1:]])
    p_virginica = np.array([float(r[4].replace(",", ".")) for r in rows[1:]])
    assert "," in rows[1][3]
    np.testing.assert_allclose(p_setosa + p_virginica, 1.0, atol=1e-6)
    predicted = np.array([r[-1] for r in rows[1:]])
    assert (predicted == np.where(p_virginica > 0.5, "virginica", "setosa")).all()
    assert (predicted == names).mean() > 0.9


def test_trailing_delimiters_make_an_empty_column_that_is_left_out(tmp_path):
    x, label = separable(100, 18)
    data = tmp_path / "trailing.csv"
    data.write_text(
        "a,b,label,\n" + "".join(f"{a:.3f},{b:.3f},{c},\n" for (a, b), c in zip(x, label))
    )
    done = train(data, tmp_path / "m.nnc", "--target", "label", "--epochs", "2")
    assert "column '' of" in done.stderr and "is empty: not used" in done.stderr
    assert nncore.load_model(tmp_path / "m.nnc").metadata["features"] == ["a", "b"]


def test_file_without_header(tmp_path):
    x, label = separable(300, 4)
    data = tmp_path / "noheader.csv"
    write_csv(data, None, [[f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(x, label)])
    model = tmp_path / "m.nnc"
    done = train(data, model, "--target", "3", "--epochs", "40")
    assert "no header row" in done.stderr
    assert reported_accuracy(done.stdout) > 0.9
    # the rows to predict, without the target column and without a header
    new = tmp_path / "new.csv"
    write_csv(new, None, [[f"{a:.4f}", f"{b:.4f}"] for a, b in x[:20]])
    rows = read_csv(succeeded(nncore_cli("predict", str(model), str(new))).stdout)
    assert rows[0] == ["1", "2", "3"] and len(rows) == 21
    assert np.mean([int(r[-1]) == c for r, c in zip(rows[1:], label[:20])]) > 0.8
    # --no-header on a file of text, whose first row could be a header
    words = tmp_path / "words.csv"
    write_csv(words, None, [["red", "big", "yes"], ["blue", "small", "no"]] * 20)
    done = train(words, model, "--target", "3", "--no-header", "--validation-split", "0")
    assert "training on 40 rows" in done.stdout


def test_quoted_fields_and_text_columns(tmp_path):
    rng = np.random.default_rng(5)
    cities = ["New York, NY", 'Paris "the city"', "Berlin"]
    n = 450
    city = rng.integers(0, 3, n)
    size = rng.uniform(20, 200, n)
    price = 1000 * np.array([8.0, 9.0, 5.0])[city] + 10 * size
    data = tmp_path / "quoted.csv"
    write_csv(
        data,
        ["city, state", "size m²", "price"],
        [[cities[c], f"{s:.1f}", f"{p:.0f}"] for c, s, p in zip(city, size, price)],
        quoting=csv.QUOTE_NONNUMERIC,
    )
    model = tmp_path / "m.nnc"
    done = train(
        data, model, "--target", "price", "--epochs", "150", "--hidden", "", "--lr", "0.05"
    )
    assert "task: regression of 'price'" in done.stdout
    assert "text column 'city, state': 3 categories, one-hot encoded" in done.stderr
    meta = nncore.load_model(model).metadata
    assert meta["inputs"] == [
        "city, state=Berlin",
        "city, state=New York, NY",
        'city, state=Paris "the city"',
        "size m²",
    ]
    out = tmp_path / "out.csv"
    succeeded(nncore_cli("predict", str(model), str(data), "-o", str(out)))
    rows = read_csv(out)
    assert rows[0] == ["city, state", "size m²", "price", "price_predicted"]
    assert {r[0] for r in rows[1:]} == set(cities)
    predicted = np.array([float(r[-1]) for r in rows[1:]])
    assert np.abs(predicted - price).max() < 100  # a linear model fits it exactly


def test_unseen_categories_at_predict(tmp_path):
    rng = np.random.default_rng(6)
    colour = rng.choice(["red", "green"], 200)
    value = rng.standard_normal(200)
    label = np.where(colour == "red", "warm", "cold")
    data = tmp_path / "colours.csv"
    write_csv(
        data,
        ["colour", "value", "label"],
        [[c, f"{v:.3f}", t] for c, v, t in zip(colour, value, label)],
    )
    model = tmp_path / "m.nnc"
    train(data, model, "--target", "label", "--epochs", "30")
    new = tmp_path / "new.csv"
    write_csv(new, ["colour", "value"], [["purple", "0.1"], ["red", "0.2"], ["purple", "0.3"]])
    done = succeeded(nncore_cli("predict", str(model), str(new)))
    assert "'colour': 'purple' (2)" in done.stderr and "not seen in training" in done.stderr
    rows = read_csv(done.stdout)
    assert len(rows) == 4 and rows[2][-1] == "warm"
    assert all(r[-1] in ("warm", "cold") for r in rows[1:])


@pytest.mark.parametrize("impute", ["none", "mean", "median", "drop"])
def test_missing_values(tmp_path, impute):
    x, label = separable(200, 7)
    cells = [[f"{a:.4f}", f"{b:.4f}", str(c)] for (a, b), c in zip(x, label)]
    cells[10][0] = ""  # line 12 (the header is line 1)
    cells[20][1] = "NA"
    cells[30][0] = "?"
    data = tmp_path / "holes.csv"
    write_csv(data, ["a", "b", "label"], cells)
    model = tmp_path / "m.nnc"
    args = ("train", str(data), "--target", "label", "--epochs", "5", "--quiet", "-o", str(model))
    done = nncore_cli(*args, "--impute", impute, "--validation-split", "0")
    if impute == "none":
        failed_with(done, "line 12: column 'a' has no value (2 row(s) like this); --impute")
        assert not model.exists()
        return
    succeeded(done)
    if impute == "drop":
        assert "3 row(s) with missing values left out" in done.stderr
        assert "on 197 rows" in done.stdout
        return
    fills = {f["column"]: f["fill"] for f in nncore.load_model(model).metadata["encoding"]}
    present = np.ones(200, bool)
    present[[10, 30]] = False
    known_a = np.array([float(c[0]) for c, p in zip(cells, present) if p])
    expected = known_a.mean() if impute == "mean" else np.median(known_a)
    assert fills["a"] == pytest.approx(expected, rel=1e-12)
    # predict fills a missing cell with the training mean/median too
    new = tmp_path / "new.csv"
    write_csv(new, ["a", "b"], [["", "0.5"], [repr(fills["a"]), "0.5"]])
    rows = read_csv(succeeded(nncore_cli("predict", str(model), str(new), "--proba")).stdout)
    assert rows[1][2:] == rows[2][2:]


def test_sorted_file_gets_a_shuffled_validation_split(tmp_path):
    x, label = separable(400, 8)
    order = np.argsort(label, kind="stable")
    data = tmp_path / "sorted.csv"
    write_csv(
        data,
        ["a", "b", "label"],
        [[f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(x[order], label[order])],
    )
    done = train(data, tmp_path / "m.nnc", "--target", "label", "--epochs", "20", "--seed", "3")
    assert "validating on 80 (a shuffled split, --seed 3)" in done.stdout
    matrix = re.findall(r"^\s+([01])\s+(\d+)\s+(\d+)$", done.stdout, re.M)
    per_class = {row[0]: int(row[1]) + int(row[2]) for row in matrix}
    # the last 20% of the file holds class 1 only: a shuffled split has both
    assert per_class["0"] > 20 and per_class["1"] > 20
    assert sum(per_class.values()) == 80


def test_regression_in_the_targets_units(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, (400, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 1000 + rng.normal(0, 2, 400)
    data = tmp_path / "reg.csv"
    write_csv(
        data, ["x1", "x2", "y"], [[f"{a:.3f}", f"{b:.3f}", f"{c:.3f}"] for (a, b), c in zip(x, y)]
    )
    model = tmp_path / "r.nnc"
    done = train(
        data, model, "--target", "y", "--hidden", "", "--epochs", "200", "--validation-split", "0"
    )
    assert "task: regression of 'y'" in done.stdout
    mae, rmse, r2 = map(
        float,
        re.search(r"MAE (\S+), RMSE (\S+) \(in the units of 'y'\), R² (\S+)", done.stdout).groups(),
    )
    assert 1.0 < mae < 3.0 and 1.5 < rmse < 3.5 and r2 > 0.99
    # a network this small is printed as its formula, in raw units: y = 3·x1 - 2·x2 + 1000
    w1, w2, b = map(float, re.search(r"y = (\S+)·x1 - (\S+)·x2 \+ (\S+)", done.stdout).groups())
    assert (w1, w2, b) == pytest.approx((3, 2, 1000), rel=0.02)
    done = succeeded(nncore_cli("predict", str(model), str(data)))
    predicted_text = [r[-1] for r in read_csv(done.stdout)[1:]]
    # float32 precision: at most 9 significant digits, never a widened float64
    assert max(len(re.sub(r"[-.]|e.*", "", t).lstrip("0")) for t in predicted_text) <= 9
    predicted = np.array([float(t) for t in predicted_text])
    assert np.sqrt(np.mean((predicted - y) ** 2)) == pytest.approx(rmse, rel=0.01)
    done = succeeded(nncore_cli("evaluate", str(model), str(data)))
    assert f"RMSE {rmse:.4g}" in done.stdout and f"MAE {mae:.4g}" in done.stdout


def test_training_options_reach_the_model(tmp_path):
    x, label = separable(100, 15)
    data = tmp_path / "d.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.3f}", f"{b:.3f}", c] for (a, b), c in zip(x, label)]
    )
    model = tmp_path / "m.nnc"
    options = ["--optimizer", "sgd", "--lr", "0.05", "--activation", "tanh", "--hidden", "5"]
    train(data, model, "--target", "label", "--epochs", "3", "--batch-size", "16", *options)
    loaded = nncore.load_model(model)
    assert type(loaded.optimizer).__name__ == "SGD"
    assert loaded.optimizer.learning_rate == pytest.approx(0.05)
    assert loaded.optimizer.iterations == 3 * 5  # 80 training rows in batches of 16
    assert [(layer.units, layer.activation) for layer in loaded.layers] == [
        (5, "tanh"),
        (1, "sigmoid"),
    ]


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    rng = np.random.default_rng(16)
    data = tmp_path / "noise.csv"
    rows = [
        [f"{v:.4f}" for v in rng.standard_normal(5)] + [int(rng.integers(0, 2))] for _ in range(200)
    ]
    write_csv(data, ["a", "b", "c", "d", "e", "label"], rows)
    done = train(
        data, tmp_path / "m.nnc", "--target", "label", "--epochs", "300", "--early-stopping", "3"
    )
    epochs = int(re.search(r"(\d+) epochs in", done.stdout).group(1))
    best = int(re.search(r"the weights of epoch (\d+) are kept", done.stdout).group(1))
    assert epochs < 300 and best == epochs - 3


def test_latin1_file_from_a_spreadsheet(tmp_path):
    x, label = separable(100, 17)
    text = "Länge;Breite;Art\n" + "".join(
        f"{a:.2f};{b:.2f};{'groß' if c else 'klein'}\n".replace(".", ",")
        for (a, b), c in zip(x, label)
    )
    data = tmp_path / "excel.csv"
    data.write_bytes(text.encode("latin-1"))
    model = tmp_path / "m.nnc"
    done = train(data, model, "--target", "Art", "--epochs", "5")
    assert "is not UTF-8: read as Latin-1" in done.stderr
    meta = nncore.load_model(model).metadata
    assert meta["features"] == ["Länge", "Breite"] and meta["classes"] == ["groß", "klein"]


def test_evaluate_a_classifier(tmp_path):
    x, label = separable(300, 9)
    data = tmp_path / "d.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(x, label)]
    )
    model = tmp_path / "m.nnc"
    train(data, model, "--target", "label", "--epochs", "30")
    done = succeeded(nncore_cli("evaluate", str(model), str(data)))
    assert "on 300 rows" in done.stdout and reported_accuracy(done.stdout) > 0.9
    assert "confusion matrix" in done.stdout


def test_predict_streams_past_a_chunk(tmp_path):
    from nncore._csv import CHUNK_ROWS

    x, label = separable(CHUNK_ROWS + 3, 10)
    data = tmp_path / "big.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.3f}", f"{b:.3f}", c] for (a, b), c in zip(x, label)]
    )
    model = tmp_path / "m.nnc"
    train(data, model, "--target", "label", "--epochs", "2")
    rows = read_csv(succeeded(nncore_cli("predict", str(model), str(data))).stdout)
    assert len(rows) == CHUNK_ROWS + 4
    done = succeeded(nncore_cli("evaluate", str(model), str(data)))
    assert f"on {CHUNK_ROWS + 3} rows" in done.stdout


def test_model_saved_from_python_predicts_from_the_command_line(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((50, 3))
    regressor = nncore.Sequential([nncore.Dense(4, "tanh", input_dim=3), nncore.Dense(1)], seed=1)
    regressor.save(tmp_path / "r.nnc")
    data = tmp_path / "x.csv"
    write_csv(data, ["p", "q", "r"], x.tolist())
    rows = read_csv(succeeded(nncore_cli("predict", str(tmp_path / "r.nnc"), str(data))).stdout)
    assert rows[0] == ["p", "q", "r", "prediction"]
    expected = regressor.predict(x.astype(np.float32))[:, 0]
    np.testing.assert_array_equal([np.float32(r[-1]) for r in rows[1:]], expected)

    classifier = nncore.Sequential([nncore.Dense(3, "softmax", input_dim=2)], seed=2)
    classifier.save(tmp_path / "c.nnc")
    write_csv(data, ["p", "q", "r"], x.tolist())
    done = succeeded(
        nncore_cli("predict", str(tmp_path / "c.nnc"), str(data), "--drop", "q", "--proba")
    )
    rows = read_csv(done.stdout)
    assert rows[0] == ["p", "q", "r", "P(0)", "P(1)", "P(2)", "prediction"]
    probabilities = classifier.predict(x[:, [0, 2]].astype(np.float32))
    assert [int(r[-1]) for r in rows[1:]] == probabilities.argmax(axis=1).tolist()
    done = nncore_cli("predict", str(tmp_path / "c.nnc"), str(data))
    failed_with(done, "takes 2 input(s) and stores no column names")


# -------------------------------------------------------- user errors


@pytest.mark.parametrize(
    "metadata, words",
    [
        ({"task": "classification", "classes": ["a"]}, "must list 3 classes"),
        ({"task": "sorting"}, "unknown task 'sorting'"),
        ({"encoding": [{"categories": ["x"]}]}, "not what nncore train writes"),
        ({"features": ["a", "b", "c"]}, "describes 3 inputs; the model takes 2"),
    ],
)
def test_hand_edited_model_metadata_is_one_line(tmp_path, metadata, words):
    model = nncore.Sequential([nncore.Dense(3, "softmax", input_dim=2)])
    model.metadata = metadata
    model.save(tmp_path / "m.nnc")
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    failed_with(nncore_cli("predict", str(tmp_path / "m.nnc"), str(data)), words)


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "the file is empty"),
        ("a,b\n", "no data rows"),
        ("a,b\n1,2\n3\n", "line 3: 1 values; expected 2"),
        ("a,b\n1,2\n3,x\n4,5\n", "line 3: column 'b' holds numbers, but this row has 'x'"),
        ("a,b\n1,2\n3,inf\n", "line 3: column 'b' must be finite"),
        ("a,a\n1,2\n", "the column name 'a' appears twice"),
        ("a,b\n1,2\n1,3\n", "the target 'a' has one value only"),
    ],
)
def test_bad_csv_gets_a_clear_error(tmp_path, content, words):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    failed_with(nncore_cli("train", str(data), "--target", "a", "--quiet"), words)


def test_wrong_command_lines(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2.5\n3,4.5\n5,6.5\n7,8.5\n9,10.5\n")
    model = tmp_path / "m.nnc"
    checks = [
        (("train", str(data), "--target", "zzz"), "--target 'zzz' is not a column", 1),
        (("train", str(data), "--target", "a", "--hidden", "64,abc"), "got '64,abc'", 2),
        (("train", str(data), "--target", "a", "--epochs", "0"), "argument --epochs", 2),
        (("train", str(data), "--target", "a", "--lr", "-1"), "argument --lr", 2),
        (("train", str(data)), "required: --target", 2),
        (("train", str(data), "--target", "a", "--features", "q"), "--features: no column 'q'", 1),
        (
            (
                "train",
                str(data),
                "--target",
                "a",
                "--early-stopping",
                "3",
                "--validation-split",
                "0",
            ),
            "--early-stopping",
            1,
        ),
        (("train", str(tmp_path / "no.csv"), "--target", "a"), "No such file", 1),
        (
            ("train", str(data), "--target", "a", "--plot", str(tmp_path / "x.xyz")),
            "cannot write a picture",
            1,
        ),
        (("predict", str(tmp_path / "none.nnc"), str(data)), "No such file", 1),
        (("predict", str(data), str(data)), "d.csv", 1),
        (("frobnicate",), "invalid choice", 2),
    ]
    for (_, words, status), done in zip(checks, nncore_cli_all([c[0] for c in checks])):
        failed_with(done, words, status)
    train(data, model, "--target", "b", "--epochs", "1", "--hidden", "2")
    failed_with(
        nncore_cli("predict", str(model), str(data), "--proba"), "--proba is for classifiers"
    )
    other = tmp_path / "other.csv"
    other.write_text("c,d\n1,2\n")
    failed_with(nncore_cli("predict", str(model), str(other)), "no column 'a'")
    failed_with(nncore_cli("evaluate", str(model), str(other)), "the target 'b' is not a column")


def test_help_shows_every_default():
    done = succeeded(nncore_cli("train", "--help"))
    text = " ".join(done.stdout.split())
    for option, default in [
        ("--hidden", "64,32"),
        ("--epochs", "50"),
        ("--batch-size", "32"),
        ("--optimizer", "adam"),
        ("--activation", "relu"),
        ("--validation-split", "0.2"),
        ("--early-stopping", "0"),
        ("--seed", "0"),
        ("--task", "auto"),
        ("--impute", "none"),
        ("--output", "model.nnc"),
    ]:
        assert re.search(
            re.escape(option) + r".*?\(default: " + re.escape(default) + r"\)", text
        ), option
    assert "the optimizer's own" in text


def test_info():
    done = succeeded(nncore_cli("info"))
    assert f"nncore {nncore.__version__}" in done.stdout
    kernel = nncore.kernels.cpu_features()["kernel"]
    assert f"kernel path: {kernel}" in done.stdout and "threads: " in done.stdout


def test_info_on_a_model_prints_its_formula(tmp_path):
    model = nncore.Sequential([nncore.Dense(1, "relu", input_dim=2), nncore.Dense(1)], seed=0)
    model.save(tmp_path / "m.nnc")
    done = succeeded(nncore_cli("info", str(tmp_path / "m.nnc")))
    assert "y = " in done.stdout and "relu(" in done.stdout


# ------------------------------------------------ progress and pictures


def test_progress_has_no_control_characters_in_a_log(tmp_path):
    x, label = separable(100, 12)
    data = tmp_path / "d.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.3f}", f"{b:.3f}", c] for (a, b), c in zip(x, label)]
    )
    done = succeeded(
        nncore_cli(
            "train", str(data), "--target", "label", "--epochs", "5", "-o", str(tmp_path / "m.nnc")
        )
    )
    assert "epoch 5/5 [====================]" in done.stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", done.stderr + done.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_on_a_terminal(tmp_path, monkeypatch, with_tqdm):
    import pty

    monkeypatch.chdir(tmp_path)  # `python -c` would import the source folder from the repository

    x, label = separable(100, 13)
    data = tmp_path / "d.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.3f}", f"{b:.3f}", c] for (a, b), c in zip(x, label)]
    )
    hide = "" if with_tqdm else "sys.modules['tqdm'] = None; "
    code = (
        f"import sys; {hide}from nncore.cli import main; "
        f"sys.exit(main(['train', {str(data)!r}, '--target', 'label', '--epochs', '3', "
        f"'-o', {str(tmp_path / 'm.nnc')!r}]))"
    )
    output = bytearray()

    def read(fd):
        chunk = os.read(fd, 4096)
        output.extend(chunk)
        return chunk

    status = pty.spawn([sys.executable, "-c", code], read)
    text = output.decode()
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\r" in text.replace("\r\n", "\n")  # rewritten in place
    if with_tqdm:
        assert "3/3 [" in text and ("epoch/s" in text or "s/epoch" in text)
    else:
        assert "epoch 3/3 [====================]" in text


def is_png(path):
    import matplotlib.image

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # not blank
    return True


def test_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    succeeded(nncore_cli("demo", "--epochs", "3", "--quiet", "--plot", str(tmp_path / "demo.png")))
    assert is_png(tmp_path / "demo.png")
    x, label = separable(200, 14)
    data = tmp_path / "d.csv"
    write_csv(
        data, ["a", "b", "label"], [[f"{a:.3f}", f"{b:.3f}", c] for (a, b), c in zip(x, label)]
    )
    train(
        data,
        tmp_path / "m.nnc",
        "--target",
        "label",
        "--epochs",
        "5",
        "--plot",
        str(tmp_path / "train.png"),
    )
    assert is_png(tmp_path / "train.png")


def test_picture_without_matplotlib_is_one_line(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None; from nncore.cli import main; "
        "sys.exit(main(['demo', '--epochs', '1', '--plot', 'x.png']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    failed_with(done, "pip install 'nncore-kernels[plot]'")


# --------------------------------------------------------------- bench


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
