"""The `nncore` command line (also `python -m nncore`).

    nncore demo                      trains a built-in problem, no files needed
    nncore train DATA.csv --target COLUMN [--hidden 64,32] [--epochs N] [-o model.nnc]
    nncore predict model.nnc DATA.csv [-o predictions.csv]
    nncore bench                     nncore vs the peers that are installed

CSV files have a header row. `train` uses every column but the target as a
numeric feature; a target with text values, or with few distinct integer
values, makes a classifier (else a regressor). Features are standardized
during training and the scaling is folded into the first layer afterwards,
so the saved model takes raw feature values. `predict` writes the input
columns plus one last column: the predicted class label or value.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time

import numpy as np

MAX_CLASSES_FOR_INTEGER_TARGET = 20


# ------------------------------------------------------------------ CSV files


def read_csv(path):
    """(header, rows) of a CSV file with a header row; OSError/ValueError when unusable."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: the file is empty; expected a header row") from None
        header = [name.strip() for name in header]
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: column names in the header repeat: {header}")
        rows = []
        for line_number, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, line {line_number}: {len(row)} values; the header has {len(header)}"
                )
            rows.append([cell.strip() for cell in row])
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    return header, rows


def numeric_column(path, header, rows, index):
    """One column as float64; a clear error naming the column and line otherwise."""
    values = np.empty(len(rows))
    for i, row in enumerate(rows):
        try:
            values[i] = float(row[index])
        except ValueError:
            raise ValueError(
                f"{path}, line {i + 2}: column {header[index]!r} must be numeric; "
                f"got {row[index]!r}"
            ) from None
        if not np.isfinite(values[i]):
            raise ValueError(
                f"{path}, line {i + 2}: column {header[index]!r} must be finite; got {row[index]!r}"
            )
    return values


def feature_matrix(path, header, rows, names):
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"{path}: missing feature column(s) {missing}; the header has {header}")
    return np.column_stack([numeric_column(path, header, rows, header.index(n)) for n in names])


# ------------------------------------------------------------------- commands


def build_classifier_or_regressor(n_features, hidden, n_outputs, task, seed):
    import nncore

    model = nncore.Sequential(seed=seed)
    for i, units in enumerate(hidden):
        kwargs = {"input_dim": n_features} if i == 0 else {}
        model.add(nncore.Dense(units, activation="relu", **kwargs))
    first = {"input_dim": n_features} if not hidden else {}
    if task == "regression":
        model.add(nncore.Dense(1, **first))
        model.compile(loss="mse", optimizer="adam")
    elif n_outputs == 2:
        model.add(nncore.Dense(1, activation="sigmoid", **first))
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    else:
        model.add(nncore.Dense(n_outputs, activation="softmax", **first))
        model.compile(
            loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"]
        )
    return model


def fold_standardization(model, mean, scale):
    """Makes the first layer take raw x instead of (x - mean) / scale: exact algebra,
    W' = W / scale[:, None] and b' = b - (mean / scale) @ W."""
    weights = model.get_weights()
    w, b = weights[0].astype(np.float64), weights[1].astype(np.float64)
    weights[0] = (w / scale[:, None]).astype(weights[0].dtype)
    weights[1] = (b - (mean / scale) @ w).astype(weights[1].dtype)
    model.set_weights(weights)


def guess_task(values):
    """'classification' for text or few distinct integers, else 'regression'."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return "classification"
    distinct = np.unique(numbers)
    integers = np.all(numbers == np.round(numbers))
    if integers and len(distinct) <= MAX_CLASSES_FOR_INTEGER_TARGET:
        return "classification"
    return "regression"


def command_train(args):
    header, rows = read_csv(args.data)
    if args.target not in header:
        raise ValueError(f"--target {args.target!r} is not a column of {args.data}: {header}")
    target_index = header.index(args.target)
    names = [n for n in header if n != args.target]
    if not names:
        raise ValueError(f"{args.data}: no feature columns besides the target {args.target!r}")
    x = feature_matrix(args.data, header, rows, names)
    raw_target = [row[target_index] for row in rows]
    task = args.task if args.task != "auto" else guess_task(raw_target)
    if task == "classification":
        classes = sorted(set(raw_target))
        try:  # numeric labels sort as numbers
            classes = sorted(classes, key=float)
        except ValueError:
            pass
        if len(classes) < 2:
            raise ValueError(f"--target {args.target!r} has one class only: {classes}")
        lookup = {c: i for i, c in enumerate(classes)}
        y = np.array([lookup[v] for v in raw_target])
    else:
        classes = None
        y = numeric_column(args.data, header, rows, target_index)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()] if args.hidden else []
    n_outputs = len(classes) if classes else 1
    model = build_classifier_or_regressor(len(names), hidden, n_outputs, task, args.seed)
    y_mean, y_scale = 0.0, 1.0
    if task == "regression":  # a standardized target trains well with default settings
        y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
        y = (y - y_mean) / y_scale
    start = time.perf_counter()
    history = model.fit(
        (x - mean) / scale,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=0 if args.quiet else "auto",
    )
    elapsed = time.perf_counter() - start
    fold_standardization(model, mean, scale)
    if task == "regression":  # fold the target scaling into the last layer
        weights = model.get_weights()
        weights[-2] = weights[-2] * y_scale
        weights[-1] = weights[-1] * y_scale + y_mean
        model.set_weights(weights)
    model.metadata = {
        "features": names,
        "target": args.target,
        "task": task,
        "classes": classes,
    }
    model.save(args.output)
    final = {k: v[-1] for k, v in history.history.items()}
    summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
    print(f"trained on {len(rows)} rows in {elapsed:.2f} s: {summary}")
    print(f"saved {args.output}")
    return 0


def command_predict(args):
    import nncore

    model = nncore.load_model(args.model)
    meta = getattr(model, "metadata", None) or {}
    if "features" not in meta:
        raise ValueError(f"{args.model}: no feature names stored; save it with `nncore train`")
    header, rows = read_csv(args.data)
    x = feature_matrix(args.data, header, rows, meta["features"])
    out = model.predict(x)
    if meta.get("task") == "classification":
        classes = meta["classes"]
        index = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
        predictions = [classes[i] for i in index]
    else:
        predictions = [repr(float(v)) for v in out[:, 0]]
    name = meta.get("target", "prediction")
    column = name if name not in header else f"{name}_predicted"
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(stream)
        writer.writerow([*header, column])
        for row, value in zip(rows, predictions):
            writer.writerow([*row, value])
    finally:
        if args.output:
            stream.close()
    if args.output:
        print(f"wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    return 0


def circles(n, seed):
    """Two concentric noisy circles: label 1 for the inner one."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    radius = np.where(label == 1, 0.5, 1.0) + rng.normal(0, 0.08, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return x.astype(np.float32), label.astype(np.float32)


def ascii_picture(model, width=48, height=20):
    """The decision regions of a 2-input classifier drawn with characters."""
    xs = np.linspace(-1.4, 1.4, width)
    ys = np.linspace(1.4, -1.4, height)
    grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
    inside = model.predict(grid)[:, 0].reshape(height, width) > 0.5
    return "\n".join("".join("#" if v else "." for v in row) for row in inside)


def command_demo(args):
    import nncore

    x, y = circles(2000, args.seed)
    x_test, y_test = circles(1000, args.seed + 1)
    model = nncore.Sequential(seed=args.seed)
    model.add(nncore.Dense(16, activation="relu", input_dim=2))
    model.add(nncore.Dense(16, activation="relu"))
    model.add(nncore.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    print("nncore demo: two concentric circles, a 2-16-16-1 ReLU network, Adam\n")
    model.summary()
    start = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2 if not args.quiet else 0)
    elapsed = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test)
    print(
        f"\n{args.epochs} epochs of {len(x)} samples in {elapsed:.3f} s "
        f"({args.epochs * len(x) / elapsed:,.0f} samples/s, kernel "
        f"{nncore.kernels.cpu_features()['kernel']})"
    )
    print(f"held-out accuracy {accuracy:.3f}, loss {loss:.4f}\n")
    print("what the network learned ('#' = inner circle):")
    print(ascii_picture(model))
    return 0


def command_bench(args):
    from nncore.benchmarks import main as bench_main

    return bench_main(args.bench_args)


def make_parser():
    parser = argparse.ArgumentParser(
        prog="nncore", description="Compiled neural networks for the CPU."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="train a built-in problem, no files needed")
    demo.add_argument("--epochs", type=int, default=30)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(run=command_demo)

    train = sub.add_parser("train", help="train on a CSV file and save the model")
    train.add_argument("data", help="CSV file with a header row")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--hidden", default="64,32", help="hidden layer widths, e.g. 64,32")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--validation-split", type=float, default=0.0)
    train.add_argument("--task", choices=("auto", "classification", "regression"), default="auto")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true")
    train.add_argument("-o", "--output", default="model.nnc")
    train.set_defaults(run=command_train)

    predict = sub.add_parser("predict", help="predict a CSV file with a saved model")
    predict.add_argument("model")
    predict.add_argument("data")
    predict.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    predict.set_defaults(run=command_predict)

    bench = sub.add_parser(
        "bench",
        help="nncore vs the peers that are installed",
        description="Options: --net tiny|mnist|wide, --peer NAME, --threads N (each repeatable).",
    )
    bench.set_defaults(run=command_bench)
    return parser


def main(argv=None):
    parser = make_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.bench_args = extra  # `nncore bench` hands its options to nncore.benchmarks
    if args.version:
        import nncore

        print(nncore.__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"nncore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nncore {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
