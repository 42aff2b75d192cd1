"""The `nncore` command line (also `python -m nncore`).

    nncore demo                      trains a built-in problem, no files needed
    nncore train DATA.csv --target COLUMN [--hidden 64,32] [--epochs N] [-o model.nnc]
    nncore predict model.nnc DATA.csv [-o predictions.csv] [--proba]
    nncore evaluate model.nnc DATA.csv [--target COLUMN]
    nncore info [model.nnc]          version, CPU features, kernel path, threads
    nncore bench                     nncore vs the peers that are installed

CSV files are read as they come (nncore._csv): delimiter, decimal mark and
header are sniffed, a pandas index column is dropped, text feature columns
are one-hot encoded, missing values are refused or imputed. A target with
text values, or with few distinct integer values, makes a classifier (else a
regressor). Features are standardized during training and the scaling is
folded into the first layer afterwards (a regression target's into the last),
so the saved model takes raw feature values and answers in the target's
units. The model file's metadata holds what `predict` needs: the columns, their
encoding, the target and its classes.

Every user error is one line on standard error and exit status 1 (2 for a
wrong command line); results go to standard output, notes and progress to
standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import tempfile
import time

import numpy as np

from nncore import _csv, names
from nncore._explain import MAX_WEIGHTS

MAX_CLASSES_FOR_INTEGER_TARGET = 20
OPTIMIZERS = names.OPTIMIZERS
# The output layer's activation follows from the task; linear and softmax
# would make the hidden layers pointless or couple their units.
HIDDEN_ACTIVATIONS = tuple(a for a in names.ACTIVATIONS if a not in ("linear", "softmax"))


def note(message: str):
    print(f"note: {message}", file=sys.stderr)


# ------------------------------------------------------- argument types


def hidden_widths(text: str) -> list:
    """'64,32' -> [64, 32]; '' -> [] (no hidden layer)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected layer widths as positive integers separated by commas, e.g. 64,32 "
            f"(or '' for none); got {text!r}"
        )
    return [int(p) for p in parts]


def column_names(text: str) -> list:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names separated by commas; got {text!r}")
    return names


def separator(text: str) -> str:
    text = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(text, text)
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'); got {text!r}")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); got {text!r}")
    return value


def learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


# ------------------------------------------------------------- reading


def open_csv(args):
    fmt = _csv.sniff(args.data, sep=args.sep, no_header=args.no_header)
    for message in fmt.notes:
        note(message)
    return fmt


def index_column(file_scan, explicit: list) -> str | None:
    """The first column when it is an unnamed or row-number index (pandas' to_csv writes
    one), unless the user named it."""
    fmt = file_scan.fmt
    first = fmt.names[0]
    if first in explicit or len(fmt.names) < 2:
        return None
    column = file_scan.columns[first]
    unnamed = fmt.header and first.strip().lower() in ("", "unnamed: 0")
    named_like_index = not fmt.header or first.strip().lower() in _csv.INDEX_NAMES
    if unnamed or (named_like_index and column.row_numbers):
        return first
    return None


def choose_columns(fmt, names: list, features, drop, skip: list) -> list:
    """The feature columns: --features, else every column but `skip` and --drop."""
    for option, chosen in (("--features", features), ("--drop", drop)):
        unknown = [n for n in chosen or [] if n not in fmt.names]
        if unknown:
            raise ValueError(
                f"{option}: no column {', '.join(map(repr, unknown))} in {fmt.path}; "
                f"its columns are {', '.join(map(repr, fmt.names))}"
            )
    if features:
        if set(features) & set(skip):
            raise ValueError(f"--features must not include the target {skip[0]!r}")
        if drop:
            raise ValueError("give --features or --drop, not both")
        return list(dict.fromkeys(features))
    chosen = [n for n in names if n not in skip and n not in (drop or [])]
    if not chosen:
        raise ValueError(f"{fmt.path}: no feature columns left to use")
    return chosen


def guess_task(fmt, column) -> str:
    """'classification' for text or few distinct integers, else 'regression'."""
    if not column.numeric:
        return "classification"
    few = len(column.distinct) <= MAX_CLASSES_FOR_INTEGER_TARGET
    if few and all(float(fmt.number(v)).is_integer() for v in column.distinct):
        return "classification"
    return "regression"


def class_labels(fmt, column) -> list:
    """The target's distinct values as written, numbers sorted as numbers."""
    if len(column.distinct) >= _csv.MAX_DISTINCT:
        raise ValueError(
            f"{fmt.path}: the target {column.name!r} has more than {_csv.MAX_DISTINCT} distinct "
            "values: too many classes (--task regression for a number)"
        )
    classes = sorted(column.distinct)
    if column.numeric:
        classes.sort(key=fmt.number)
    if len(classes) < 2:
        raise ValueError(f"the target {column.name!r} has one value only: {classes[0]!r}")
    return classes


def read_training_data(fmt, rows, encoding, target: str, task: str, classes):
    """Second pass: features (NaN where missing) and target (class index or value, NaN
    where missing) in arrays allocated once for the `rows` the first pass counted."""
    positions = encoding.positions(fmt)
    target_at = fmt.names.index(target)
    lookup = {c: float(k) for k, c in enumerate(classes or [])}
    x = np.zeros((rows, encoding.width))
    y = np.empty(rows)
    start = 0
    for chunk in _csv.chunks(fmt):
        end = start + len(chunk)
        encoding.encode(fmt, chunk, positions, {}, out=x[start:end])
        cells = [row[target_at].strip() for _, row in chunk]
        if task == "classification":
            y[start:end] = [lookup.get(cell, np.nan) for cell in cells]
        else:
            values = _csv.finite_numbers(fmt, cells)
            if values is None:  # missing values (the first pass checked the rest)
                values = [np.nan if _csv.is_missing(c) else fmt.number(c) for c in cells]
            y[start:end] = values
        start = end
    return x, y


# ------------------------------------------------------------- reports


def classification_report(y_true, y_pred, classes) -> list:
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    correct = int(np.trace(confusion))
    lines = [f"accuracy {correct / len(y_true):.4f} ({correct} of {len(y_true)})"]
    labels = [str(c) for c in classes]
    width = max(max(len(s) for s in labels), len(str(confusion.max())), 4)
    lines.append("confusion matrix (rows: true class, columns: predicted):")
    lines.append(" " * (width + 2) + " ".join(f"{s:>{width}}" for s in labels))
    for label, row in zip(labels, confusion):
        lines.append(f"  {label:>{width}} " + " ".join(f"{v:>{width}}" for v in row))
    return lines


def regression_report(y_true, y_pred, target: str) -> list:
    error = y_pred - y_true
    mae = float(np.mean(np.abs(error)))
    rmse = float(np.sqrt(np.mean(error**2)))
    spread = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / spread if spread > 0 else float("nan")
    return [f"MAE {mae:.4g}, RMSE {rmse:.4g} (in the units of {target!r}), R² {r2:.4f}"]


# ------------------------------------------------------------ building


def build_model(n_inputs, args, task, n_outputs):
    import nncore

    model = nncore.Sequential(seed=args.seed)
    model.add(nncore.Input((n_inputs,)))
    for units in args.hidden:
        model.add(nncore.Dense(units, activation=args.activation))
    if task == "regression":
        model.add(nncore.Dense(1))
        loss, metrics = "mse", []
    elif n_outputs == 2:
        model.add(nncore.Dense(1, activation="sigmoid"))
        loss, metrics = "binary_crossentropy", ["accuracy"]
    else:
        model.add(nncore.Dense(n_outputs, activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    optimizer = nncore.optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer.learning_rate = args.lr
    model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
    return model


def fold_standardization(model, mean, scale):
    """Makes the first layer take raw x instead of (x - mean) / scale: exact algebra,
    W' = W / scale[:, None] and b' = b - (mean / scale) @ W."""
    weights = model.get_weights()
    w, b = weights[0].astype(np.float64), weights[1].astype(np.float64)
    weights[0] = (w / scale[:, None]).astype(weights[0].dtype)
    weights[1] = (b - (mean / scale) @ w).astype(weights[1].dtype)
    model.set_weights(weights)


def fold_target_scaling(model, y_mean, y_scale):
    """Makes the (linear) last layer answer y_mean + y_scale * output."""
    weights = model.get_weights()
    weights[-2] = weights[-2] * y_scale
    weights[-1] = weights[-1] * y_scale + y_mean
    model.set_weights(weights)


class BarCallback:
    """Drives a progress bar over epochs from fit's epoch hook."""

    def __init__(self, epochs, shown):
        from nncore.progress import epoch_bar

        self.bar = epoch_bar(epochs)
        self.shown = shown  # logs -> the values to show

    def on_epoch_end(self, epoch, logs):
        self.bar.update(epoch + 1, self.shown(logs))

    def on_train_end(self, logs):
        self.bar.close()


def shown_logs(logs: dict, task: str, y_scale: float) -> dict:
    """One epoch's logs as the progress bar shows them."""
    history = history_in_units({key: [value] for key, value in logs.items()}, task, y_scale)
    return {key: values[0] for key, values in history.items()}


def history_in_units(history: dict, task: str, y_scale: float) -> dict:
    """A regression's standardized MSE as RMSE in the target's units."""
    if task != "regression":
        return history
    return {
        key.replace("loss", "rmse"): [float(np.sqrt(v)) * y_scale for v in values]
        for key, values in history.items()
        if key in ("loss", "val_loss")
    }


def split_rows(n: int, validation_split: float, seed: int):
    """Shuffled (seeded) row indices for training and validation."""
    order = np.random.default_rng(seed).permutation(n)
    n_validation = int(round(n * validation_split))
    if validation_split > 0 and not 0 < n_validation < n:
        raise ValueError(
            f"--validation-split {validation_split} of {n} rows leaves no training or "
            "validation rows"
        )
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


# ------------------------------------------------------------- commands


def say_task(args, task, classes, target_column):
    if task == "classification":
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        other = "regression"
        print(
            f"task: classification of {args.target!r} into {len(classes)} classes ({shown})", end=""
        )
    else:
        other = "classification"
        low, high = target_column.low, target_column.high
        print(f"task: regression of {args.target!r} (values from {low:g} to {high:g})", end="")
    print("" if args.task != "auto" else f"; --task {other} to change")


def load_training_table(args):
    """The training file, every check made: (its Encoding, the model's metadata, the
    distinct values of each feature column, x with NaN where missing, y)."""
    fmt = open_csv(args)
    if args.target not in fmt.names:
        raise ValueError(
            f"--target {args.target!r} is not a column of {args.data}; its columns are "
            f"{', '.join(map(repr, fmt.names))}"
        )
    file_scan = _csv.scan(fmt)
    index = index_column(file_scan, [args.target, *(args.features or [])])
    if index is not None:
        what = "an unnamed index" if index.strip() in ("", "Unnamed: 0") else "row numbers"
        note(f"column {index!r} of {args.data} holds {what}: not used as a feature")
    skip = [args.target] + ([index] if index is not None else [])
    for name, column in file_scan.columns.items():
        if column.missing == file_scan.rows and name not in skip + (args.features or []):
            note(f"column {name!r} of {args.data} is empty: not used")
            skip.append(name)
    columns = choose_columns(fmt, fmt.names, args.features, args.drop, skip)
    allow_missing = args.impute != "none"
    encoding = _csv.Encoding.from_scan(file_scan, columns, allow_missing=allow_missing)
    target_column = file_scan.columns[args.target]
    if target_column.numeric or target_column.missing:
        _csv.check_column(fmt, target_column, allow_missing=allow_missing)
    task = args.task if args.task != "auto" else guess_task(fmt, target_column)
    if task == "regression" and not target_column.numeric:
        line, cell = target_column.first_text
        raise ValueError(
            f"{args.data}, line {line}: regression needs a numeric target; "
            f"{args.target!r} has {cell!r}"
        )
    classes = class_labels(fmt, target_column) if task == "classification" else None
    say_task(args, task, classes, target_column)
    for feature in encoding.features:
        if feature.categories is not None:
            note(
                f"text column {feature.column!r}: {len(feature.categories)} categories, "
                "one-hot encoded"
            )
    x, y = read_training_data(fmt, file_scan.rows, encoding, args.target, task, classes)
    keep = ~np.isnan(y)
    if args.impute == "drop":
        keep &= ~np.isnan(x).any(axis=1)
    if not keep.all():
        note(f"{int((~keep).sum())} row(s) with missing values left out")
        x, y = x[keep], y[keep]
        if len(y) == 0:
            raise ValueError(f"{args.data}: no rows left without missing values")
    distinct = {name: file_scan.columns[name].distinct for name in columns}
    metadata = {
        "columns": fmt.names,
        "header": fmt.header,
        "features": columns,
        "encoding": encoding.to_json(),
        "inputs": encoding.input_names,
        "target": args.target,
        "task": task,
        "classes": classes,
        "impute": args.impute,
    }
    return encoding, metadata, distinct, x, y


def command_train(args):
    if args.plot:  # before the work, not after it
        from nncore import plot

        plot.check_image_path(args.plot)
    if args.early_stopping and args.validation_split == 0:
        raise ValueError("--early-stopping watches the validation loss: give --validation-split")
    encoding, metadata, distinct, x, y = load_training_table(args)
    task, classes = metadata["task"], metadata["classes"]
    train_rows, validation_rows = split_rows(len(y), args.validation_split, args.seed)
    if args.impute in ("mean", "median"):
        encoding.set_fills(x[train_rows], args.impute, distinct)
        encoding.fill_missing(x)
        metadata["encoding"] = encoding.to_json()
    x_validation, y_validation = x[validation_rows], y[validation_rows]
    x, y = x[train_rows], y[train_rows]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    y_mean, y_scale = 0.0, 1.0
    if task == "regression":  # a standardized target trains well with default settings
        y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
    model = build_model(encoding.width, args, task, len(classes) if classes else 1)
    x -= mean
    x /= scale
    validation_data = None
    if len(validation_rows):
        validation_data = (
            (x_validation - mean) / scale,
            (y_validation - y_mean) / y_scale,
        )
        print(
            f"training on {len(train_rows)} rows, validating on {len(validation_rows)} "
            f"(a shuffled split, --seed {args.seed})"
        )
    else:
        print(f"training on {len(train_rows)} rows, no validation rows")
    callbacks = []
    early = None
    if args.early_stopping:
        import nncore

        early = nncore.callbacks.EarlyStopping(
            patience=args.early_stopping, restore_best_weights=True
        )
        callbacks.append(early)
    if not args.quiet:
        callbacks.append(BarCallback(args.epochs, lambda logs: shown_logs(logs, task, y_scale)))
    start = time.perf_counter()
    history = model.fit(
        x,
        (y - y_mean) / y_scale,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=0,
        validation_data=validation_data,
    )
    elapsed = time.perf_counter() - start
    fold_standardization(model, mean, scale)
    if task == "regression":
        fold_target_scaling(model, y_mean, y_scale)
    model.metadata = metadata
    print(f"{len(history.epoch)} epochs in {elapsed:.2f} s")
    if early is not None and early.stopped_epoch > 0:
        print(
            f"stopped early: the validation loss did not improve for {args.early_stopping} "
            f"epochs; the weights of epoch {early.best_epoch + 1} are kept"
        )
    if len(validation_rows):
        x_report, y_report, where = x_validation, y_validation, "validation rows"
    else:
        x_report, y_report, where = x * scale + mean, y, "training rows"
    print(f"on the {where}: " + "\n".join(report(model, x_report, y_report, metadata)))
    if model.count_params() <= MAX_WEIGHTS:
        import nncore

        print("the network computes:\n" + nncore.explain(model))
    model.save(args.output)
    print(f"saved {args.output}")
    if args.plot:
        history = history_in_units(history.history, task, y_scale)
        save_training_plot(args.plot, history, model, x_report, y_report, metadata)
    return 0


# ----------------------------------------------------- saved models


def output_activation(model) -> str:
    with_activation = [layer for layer in model.layers if hasattr(layer, "activation")]
    return with_activation[-1].activation if with_activation else "linear"


class SavedModel:
    """A model file and what it takes and answers: from the metadata `nncore train`
    stores, or, for a model saved from Python without it, from its shape (the
    file's columns in order are its inputs; a sigmoid or softmax output means
    classes 0, 1, ...)."""

    def __init__(self, path):
        import nncore

        self.path = path
        self.model = nncore.load_model(path)
        if not self.model.built:
            raise ValueError(f"{path}: the model has no weights yet (it was never built)")
        meta = self.model.metadata or {}
        self.meta = meta
        self.n_inputs = self.model.input_shape[1]
        width = self.model.output_shape[1]
        default_task = (
            "classification"
            if output_activation(self.model) in ("sigmoid", "softmax")
            else "regression"
        )
        try:
            self.encoding = None
            if "encoding" in meta:
                self.encoding = _csv.Encoding.from_json(meta["encoding"])
            elif "features" in meta:
                self.encoding = _csv.Encoding.numeric([str(c) for c in meta["features"]])
            self.task = meta.get("task", default_task)
            self.classes = meta.get("classes")
            if self.task == "classification" and self.classes is None:
                self.classes = [str(k) for k in range(2 if width == 1 else width)]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path}: its metadata is not what nncore train writes ({exc})"
            ) from None
        self.check(width)
        self.target = None if meta.get("target") is None else str(meta["target"])
        columns = meta.get("columns")
        self.columns = [str(c) for c in columns] if isinstance(columns, list) else []
        self.dtype = self.model.dtype.type

    def check(self, width: int):
        """The metadata must fit the network: a hostile or hand-edited file fails here."""
        where = f"{self.path}: its metadata"
        if self.task not in ("classification", "regression"):
            raise ValueError(f"{where} has an unknown task {self.task!r}")
        if self.task == "regression" and width != 1:
            raise ValueError(
                f"{self.path}: the model has {width} outputs; the command line uses one"
            )
        if self.task == "classification":
            n_classes = 2 if width == 1 else width
            if not isinstance(self.classes, list) or len(self.classes) != n_classes:
                raise ValueError(f"{where} must list {n_classes} classes for the model's outputs")
            self.classes = [str(c) for c in self.classes]
        if self.encoding is not None and self.encoding.width != self.n_inputs:
            raise ValueError(
                f"{where} describes {self.encoding.width} inputs; the model takes {self.n_inputs}"
            )

    def columns_for(self, fmt, args, target=None) -> _csv.Encoding:
        """The encoding of this file's columns: the stored one, or (no metadata) the
        file's columns chosen with --features/--drop, as many as the model's inputs."""
        if self.encoding is not None:
            if args.features or args.drop:
                raise ValueError(
                    f"{self.path} knows its feature columns "
                    f"({', '.join(map(repr, self.encoding.columns))}); --features and --drop "
                    "are for models saved without them"
                )
            self.match_headerless(fmt, target)
            return self.encoding
        candidates = [n for n in fmt.names if n != target]
        first = fmt.names[0]
        if not args.features and (not fmt.header or first.strip().lower() in ("", "unnamed: 0")):
            if len(candidates) == self.n_inputs + 1 and first != target:
                note(f"column {first!r} of {fmt.path} taken as an index: not used")
                candidates.remove(first)
        names = choose_columns(fmt, candidates, args.features, args.drop, [target])
        if len(names) != self.n_inputs:
            raise ValueError(
                f"{self.path} takes {self.n_inputs} input(s) and stores no column names; "
                f"{fmt.path} has {len(names)} column(s) to use ({', '.join(map(repr, names))}): "
                "choose them with --features or --drop"
            )
        return _csv.Encoding.numeric(names)

    def match_headerless(self, fmt, target):
        """A file without a header takes the training file's column names: all of them,
        or all but the target."""
        if fmt.header or self.meta.get("header", True):
            return
        columns = self.columns
        without_target = [c for c in columns if c != self.target]
        if len(fmt.names) == len(columns):
            fmt.names = list(columns)
        elif len(fmt.names) == len(without_target):
            fmt.names = without_target

    def outputs(self, fmt, encoding, chunk, positions, unseen) -> np.ndarray:
        x = encoding.encode(fmt, chunk, positions, unseen)
        missing = np.isnan(x).any(axis=1)
        if missing.any():
            i = int(np.argmax(missing))
            line, cells = chunk[i]
            column = next(
                f.column for f, p in zip(encoding.features, positions) if _csv.is_missing(cells[p])
            )
            raise ValueError(
                f"{fmt.path}, line {line}: column {column!r} has no value, and the model fills "
                "missing values only when trained with --impute mean or median"
            )
        return self.model.predict(x.astype(self.model.dtype))

    def class_indices(self, out: np.ndarray) -> np.ndarray:
        return (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)

    def probabilities(self, out: np.ndarray) -> np.ndarray:
        return np.column_stack([1 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out

    def format(self, fmt, value) -> str:
        """A value at the model's precision (float32: at most 9 significant digits)."""
        return fmt.format_number(str(self.dtype(value)))


def predicted_chunks(saved, fmt, encoding):
    """(rows, outputs), a chunk of rows at a time; notes unseen categories at the end."""
    positions = encoding.positions(fmt)
    unseen = {}
    for chunk in _csv.chunks(fmt):
        yield chunk, saved.outputs(fmt, encoding, chunk, positions, unseen)
    if unseen:
        shown = ", ".join(f"{column!r}: {value!r} ({n})" for (column, value), n in unseen.items())
        note(
            f"{sum(unseen.values())} value(s) of text columns were not seen in training and are "
            f"encoded as none of the known categories: {shown}"
        )


def open_data_for(saved, args, target=None):
    fmt = _csv.sniff(args.data, sep=args.sep, no_header=args.no_header)
    if (
        fmt.header
        and not saved.meta.get("header", True)
        and not set(fmt.names) & set(saved.columns)
    ):
        fmt = _csv.sniff(args.data, sep=args.sep, no_header=True)  # a header-less file
    for message in fmt.notes:
        note(message)
    return fmt


def command_predict(args):
    saved = SavedModel(args.model)
    if args.proba and saved.task != "classification":
        raise ValueError(f"--proba is for classifiers; {args.model} predicts a value")
    fmt = open_data_for(saved, args)
    encoding = saved.columns_for(fmt, args)
    name = saved.target or "prediction"
    column = name
    while column in fmt.names:
        column += "_predicted"
    extra = [f"P({c})" for c in saved.classes] if args.proba else []
    rows = 0
    with output_stream(args.output) as stream:
        writer = csv.writer(stream, delimiter=fmt.delimiter, lineterminator="\n")
        writer.writerow([*fmt.names, *extra, column])
        for chunk, out in predicted_chunks(saved, fmt, encoding):
            if saved.task == "classification":
                labels = [saved.classes[k] for k in saved.class_indices(out)]
            else:
                labels = [saved.format(fmt, v) for v in out[:, 0]]
            probabilities = saved.probabilities(out) if args.proba else None
            for i, ((_, cells), label) in enumerate(zip(chunk, labels)):
                shown = [saved.format(fmt, p) for p in probabilities[i]] if args.proba else []
                writer.writerow([*cells, *shown, label])
            rows += len(chunk)
    if args.output:
        print(f"wrote {rows} predictions to {args.output}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def output_stream(path):
    """Standard output, or a file written whole or not at all: through a temporary
    file beside it, renamed at the end (so `-o` may even name the input file)."""
    if path is None:
        yield sys.stdout
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".nncore-", suffix=".csv", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def target_values(saved, fmt, chunk, target_at) -> np.ndarray:
    """The target cells of a chunk as class indices or values."""
    values = np.empty(len(chunk))
    lookup = {c: k for k, c in enumerate(saved.classes or [])}
    numeric_lookup = {}
    for c, k in lookup.items():
        try:
            numeric_lookup[fmt.number(c)] = k
        except ValueError:
            pass
    for i, (line, cells) in enumerate(chunk):
        cell = cells[target_at].strip()
        if _csv.is_missing(cell):
            raise ValueError(f"{fmt.path}, line {line}: the target has no value")
        try:
            if saved.task == "regression":
                values[i] = fmt.number(cell)
                continue
            if cell in lookup:
                values[i] = lookup[cell]
                continue
            values[i] = numeric_lookup[fmt.number(cell)]
        except (ValueError, KeyError):
            what = "a number" if saved.task == "regression" else "one of the model's classes"
            raise ValueError(
                f"{fmt.path}, line {line}: the target {cell!r} is not {what}"
            ) from None
    return values


def command_evaluate(args):
    saved = SavedModel(args.model)
    target = args.target or saved.target
    if target is None:
        raise ValueError(f"{args.model} stores no target column: give --target")
    fmt = open_data_for(saved, args, target)
    encoding = saved.columns_for(fmt, args, target)
    if target not in fmt.names:
        raise ValueError(
            f"the target {target!r} is not a column of {args.data}; its columns are "
            f"{', '.join(map(repr, fmt.names))}"
        )
    target_at = fmt.names.index(target)
    truth, predicted = [], []
    for chunk, out in predicted_chunks(saved, fmt, encoding):
        truth.append(target_values(saved, fmt, chunk, target_at))
        if saved.task == "classification":
            predicted.append(saved.class_indices(out))
        else:
            predicted.append(out[:, 0].astype(np.float64))
    truth, predicted = np.concatenate(truth), np.concatenate(predicted)
    if saved.task == "classification":
        lines = classification_report(truth, predicted, saved.classes)
    else:
        lines = regression_report(truth, predicted, target)
    print(f"{args.model} on {len(truth)} rows of {args.data}: " + "\n".join(lines))
    return 0


def report(model, x, y, metadata) -> list:
    out = model.predict(x.astype(model.dtype))
    if metadata["task"] == "classification":
        predicted = (out[:, 0] > 0.5) if out.shape[1] == 1 else out.argmax(axis=1)
        return classification_report(y, predicted, metadata["classes"])
    return regression_report(y, out[:, 0].astype(np.float64), metadata["target"])


def save_training_plot(path, history, model, x, y, metadata):
    """The history, and beside it the decision boundary when there are 2 inputs."""
    from nncore import plot

    inputs = metadata["inputs"]
    panels = len({key.removeprefix("val_") for key in history})
    boundary = len(inputs) == 2
    figure = plot.require_matplotlib().Figure(
        figsize=(4.2 * panels + (5.2 if boundary else 0), 4.0), layout="constrained"
    )
    if boundary:
        left, right = figure.subfigures(1, 2, width_ratios=[4.2 * panels, 5.2])
        plot.history(history, figure=left)
        plot.decision_boundary(
            model,
            x,
            y,
            ax=right.add_subplot(),
            feature_names=inputs,
            class_names=metadata["classes"],
        )
    else:
        note("no decision boundary in the picture: that needs exactly 2 input features")
        plot.history(history, figure=figure)
    figure.savefig(path, dpi=110)
    print(f"saved {path}")


def command_info(args):
    import nncore

    if args.model:
        saved = SavedModel(args.model)
        print(f"{args.model}: a {saved.task} model, {saved.model.count_params():,} weights")
        if saved.encoding is not None:
            print(f"columns: {', '.join(saved.encoding.columns)}")
        if saved.target:
            print(f"target: {saved.target}")
        if saved.classes:
            print(f"classes: {', '.join(saved.classes)}")
        saved.model.summary()
        try:
            print(nncore.explain(saved.model))
        except ValueError as exc:
            print(f"formula: {exc}")
        return 0
    features = nncore.kernels.cpu_features()
    print(f"nncore {nncore.__version__} (numpy {np.__version__}, Python {sys.version.split()[0]})")
    print(f"kernel path: {features['kernel']}")
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in features.items() if k != "kernel")
    print(f"CPU features: {flags}")
    print(f"threads: {nncore.kernels.get_num_threads()}")
    for module, extra in (("matplotlib", "plot"), ("tqdm", "progress bars")):
        try:
            __import__(module)
            state = "installed"
        except ImportError:
            state = "not installed"
        print(f"{module} ({extra}): {state}")
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

    if args.plot:
        nncore.plot.check_image_path(args.plot)
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
    history = model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=32,
        validation_data=(x_test, y_test),
        verbose=2 if not args.quiet else 0,
    )
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
    if args.plot:
        metadata = {"inputs": ["x1", "x2"], "classes": ["outer", "inner"]}
        save_training_plot(args.plot, history.history, model, x_test, y_test, metadata)
    return 0


def command_bench(args):
    from nncore.benchmarks import main as bench_main

    return bench_main(args.bench_args)


# ------------------------------------------------------------- parsing


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" to an option's help unless the help says its default
    itself or there is none to say (flags, required options)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "(default" in text
            or action.required
            or (action.default is None or isinstance(action.default, bool))
        ):
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse, with a wrong command line answered in one line (not the usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_csv_options(parser):
    parser.add_argument(
        "--sep",
        type=separator,
        default=None,
        metavar="CHAR",
        help="the delimiter: one character, or 'tab' (default: sniffed among , ; tab |)",
    )
    parser.add_argument(
        "--no-header",
        action="store_true",
        help="the first row is data (default: sniffed); columns are then named 1, 2, ...",
    )


def add_column_options(parser, what):
    parser.add_argument(
        "--features",
        type=column_names,
        default=None,
        metavar="A,B,...",
        help=f"the feature columns to use {what} (default: all but the target and an index)",
    )
    parser.add_argument(
        "--drop",
        type=column_names,
        default=None,
        metavar="A,B,...",
        help=f"columns not to use {what} (default: none)",
    )


def make_parser():
    formatter = HelpFormatter
    parser = Parser(prog="nncore", description="Compiled neural networks for the CPU.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    demo = sub.add_parser(
        "demo", help="train a built-in problem, no files needed", formatter_class=formatter
    )
    demo.add_argument(
        "--epochs", type=positive_int, default=30, metavar="N", help="passes over the data"
    )
    demo.add_argument("--seed", type=non_negative_int, default=0, metavar="N", help="random seed")
    demo.add_argument("--plot", metavar="PNG", help="save a picture of the training and the result")
    demo.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    demo.set_defaults(run=command_demo)

    train = sub.add_parser(
        "train",
        help="train on a CSV file and save the model",
        formatter_class=formatter,
        description="Trains a network on DATA.csv to predict the --target column from the "
        "others; prints the task it detected and the scores on the validation rows in the "
        "target's own units.",
    )
    train.add_argument("data", metavar="DATA.csv", help="the training data")
    train.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    add_column_options(train, "as inputs")
    add_csv_options(train)
    train.add_argument(
        "--impute",
        choices=("none", "mean", "median", "drop"),
        default="none",
        help="missing values: refuse them, fill a number with the column's mean or median "
        "(text: its most frequent value), or drop their rows",
    )
    train.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: classes for text or up to 20 distinct integers, else a value",
    )
    train.add_argument(
        "--hidden",
        type=hidden_widths,
        default="64,32",
        metavar="WIDTHS",
        help="hidden layer widths ('' for none)",
    )
    train.add_argument(
        "--activation", choices=HIDDEN_ACTIVATIONS, default="relu", help="of the hidden layers"
    )
    train.add_argument(
        "--epochs", type=positive_int, default=50, metavar="N", help="passes over the data"
    )
    train.add_argument(
        "--batch-size", type=positive_int, default=32, metavar="N", help="rows per step"
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="the update rule")
    train.add_argument(
        "--lr",
        type=learning_rate,
        default=None,
        metavar="RATE",
        help="learning rate (default: the optimizer's own: 0.001, sgd 0.01)",
    )
    train.add_argument(
        "--validation-split",
        type=fraction,
        default=0.2,
        metavar="FRACTION",
        help="share of the rows, shuffled, kept aside to score the model",
    )
    train.add_argument(
        "--early-stopping",
        type=non_negative_int,
        default=0,
        metavar="PATIENCE",
        help="stop after this many epochs without a better validation loss and keep the "
        "best weights (0: off)",
    )
    train.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="fixes the split and the training",
    )
    train.add_argument(
        "-o", "--output", default="model.nnc", metavar="MODEL.nnc", help="the model file to write"
    )
    train.add_argument("--plot", metavar="PNG", help="save a picture of the training")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=command_train)

    predict = sub.add_parser(
        "predict",
        help="predict a CSV file with a saved model",
        formatter_class=formatter,
        description="Writes DATA.csv's rows with one more column: the predicted class or value.",
    )
    predict.add_argument("model", metavar="MODEL.nnc")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="CSV",
        help="the file to write (default: standard output)",
    )
    predict.add_argument("--proba", action="store_true", help="also write each class's probability")
    add_column_options(predict, "(a model saved from Python)")
    add_csv_options(predict)
    predict.set_defaults(run=command_predict)

    evaluate = sub.add_parser(
        "evaluate",
        help="score a saved model on a labelled CSV file",
        formatter_class=formatter,
        description="Accuracy and confusion matrix for classes; MAE, RMSE and R² for values.",
    )
    evaluate.add_argument("model", metavar="MODEL.nnc")
    evaluate.add_argument("data", metavar="DATA.csv")
    evaluate.add_argument(
        "--target",
        default=None,
        metavar="COLUMN",
        help="the true values' column (default: the model's target)",
    )
    add_column_options(evaluate, "(a model saved from Python)")
    add_csv_options(evaluate)
    evaluate.set_defaults(run=command_evaluate)

    info = sub.add_parser(
        "info",
        help="version, CPU features, kernel path, threads; or a model file",
        formatter_class=formatter,
    )
    info.add_argument("model", nargs="?", metavar="MODEL.nnc", help="describe this model")
    info.set_defaults(run=command_info)

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
    except KeyboardInterrupt:
        print(f"nncore {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nncore predict ... | head`
        sys.stderr.close()
        return 1
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError, MemoryError) as exc:
        print(f"nncore {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in nncore: still one line, with what to report
        print(
            f"nncore {args.command}: internal error ({type(exc).__name__}: {one_line(exc)}); "
            "please report it",
            file=sys.stderr,
        )
        return 3


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
