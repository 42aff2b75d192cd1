"""Reading the CSV files people have, for the command line.

A file is read as a stream of rows, never held in memory as text: `sniff`
looks at its first kilobytes for the delimiter, the decimal mark and whether
the first row is a header; `scan` walks the file once to learn what each
column holds (numbers or text, missing values, distinct values); `Encoding`
turns the columns into the numeric features a network takes (text columns
one-hot encoded) and is stored in the model file so that `predict` encodes
new files the same way. Every problem is a ValueError naming the file, the
line and the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CsvFormat", "sniff", "records", "scan", "Encoding"]

# Cell contents that mean "no value" (compared in lower case).
MISSING = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
CHUNK_ROWS = 4096  # rows parsed (and predicted) at a time
# More distinct text values than this in a feature column is an identifier or
# free text, not a category: one-hot encoding it would make that many inputs.
MAX_CATEGORIES = 100
# Names that pandas (to_csv's unnamed index) and people give a row-number column.
INDEX_NAMES = frozenset({"", "unnamed: 0", "index", "id"})
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


@dataclass
class CsvFormat:
    """How one file is written, and its column names."""

    path: str
    delimiter: str
    decimal: str  # "." or ","
    header: bool
    names: list
    encoding: str = "utf-8-sig"
    notes: list = field(default_factory=list)

    def number(self, cell: str) -> float:
        """A cell as a float; ValueError when it is not a number."""
        text = cell.strip()
        if self.decimal == ",":
            text = text.replace(",", ".")
        return float(text)

    def format_number(self, text: str) -> str:
        return text.replace(".", ",") if self.decimal == "," else text

    def describe_delimiter(self) -> str:
        return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}.get(
            self.delimiter, repr(self.delimiter)
        )


def _looks_numeric(cell: str) -> bool:
    text = cell.strip().replace(",", ".", 1) if _DECIMAL_COMMA.match(cell.strip()) else cell
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_sample(path) -> tuple[str, str]:
    """(the first SNIFF_BYTES of the file cut at a line end, its text encoding)."""
    with open(path, "rb") as f:
        raw = f.read(SNIFF_BYTES)
        more = f.read(1) != b""
    if not raw.strip():
        raise ValueError(f"{path}: the file is empty")
    if b"\0" in raw:
        raise ValueError(f"{path}: this is not a text file (it holds NUL bytes)")
    if more and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows write their code page; latin-1
        # decodes any byte, so the numbers and delimiters still read right.
        return raw.decode("latin-1"), "latin-1"


def _sample_rows(text: str, delimiter: str) -> list:
    """The rows of the sample; the last is left out when the sample ends inside a
    quoted field that goes on past it."""
    rows = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True):
            if any(cell.strip() for cell in row):
                rows.append(row)
    except csv.Error:
        rows = rows[:-1]
    return rows


def _delimiter_score(rows: list) -> tuple:
    """Higher is likelier: every row as wide as the first, numbers in the cells, more columns."""
    if not rows or len(rows[0]) < 2:
        return (False, 0.0, 0)
    consistent = all(len(row) == len(rows[0]) for row in rows)
    cells = [cell for row in rows[1:] or rows for cell in row]
    numeric = sum(_looks_numeric(cell) for cell in cells) / max(len(cells), 1)
    return (consistent, numeric, len(rows[0]))


def _has_header(rows: list) -> bool:
    """A first row with a text cell above a column of numbers is a header; a
    first row of numbers is data; with no numeric column at all, a header."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return True
    numeric_columns = [
        j
        for j in range(len(first))
        if all(j < len(row) and (is_missing(row[j]) or _looks_numeric(row[j])) for row in rest)
        and any(j < len(row) and not is_missing(row[j]) for row in rest)
    ]
    if not numeric_columns:
        return True
    return any(not _looks_numeric(first[j]) for j in numeric_columns)


def sniff(path, sep=None, no_header=False) -> CsvFormat:
    """The delimiter (unless `sep`), the decimal mark and the header of a CSV file."""
    text, encoding = _read_sample(path)
    notes = []
    if encoding == "latin-1":
        notes.append(f"{path} is not UTF-8: read as Latin-1")
    if sep is None:
        scored = {d: _delimiter_score(_sample_rows(text, d)) for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: scored[d])
        if scored[delimiter][2] < 2:
            delimiter = ","  # one column: nothing to sniff
    else:
        delimiter = sep
    rows = _sample_rows(text, delimiter)
    if not rows:
        raise ValueError(f"{path}: cannot read the first rows as CSV with delimiter {delimiter!r}")
    cells = [cell.strip() for row in rows[1:] or rows for cell in row]
    decimal = "."
    if delimiter != ",":
        commas = sum(bool(_DECIMAL_COMMA.match(c)) for c in cells)
        points = sum(bool(_DECIMAL_POINT.match(c)) for c in cells)
        decimal = "," if commas > points else "."
    header = not no_header and _has_header(rows)
    if header:
        names = [name.strip() for name in rows[0]]
        seen = set()
        for name in names:
            if name in seen:
                raise ValueError(f"{path}: the column name {name!r} appears twice in the header")
            seen.add(name)
    else:
        names = [str(j + 1) for j in range(len(rows[0]))]
    fmt = CsvFormat(str(path), delimiter, decimal, header, names, encoding, notes)
    if delimiter != "," or decimal != ".":
        mark = "decimal commas" if decimal == "," else "decimal points"
        notes.append(f"{path}: columns separated by {fmt.describe_delimiter()}, {mark}")
    if not header:
        notes.append(
            f"{path} has no header row: its columns are named 1 to {len(names)} "
            f"(e.g. --target {len(names)})"
        )
    return fmt


def records(fmt: CsvFormat, *, with_header=False):
    """(line number, cells) of every data row; blank lines skipped, widths checked.

    with_header: the header row comes first (as line 1), for files copied through."""
    width = len(fmt.names)
    try:
        with open(fmt.path, newline="", encoding=fmt.encoding) as f:
            reader = csv.reader(f, delimiter=fmt.delimiter, skipinitialspace=True)
            first = True
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if first:
                    first = False
                    if fmt.header:
                        if with_header:
                            yield reader.line_num, row
                        continue
                if len(row) != width:
                    raise ValueError(
                        f"{fmt.path}, line {reader.line_num}: {len(row)} values; "
                        f"expected {width} ({fmt.describe_delimiter()} as separators)"
                    )
                yield reader.line_num, row
    except csv.Error as exc:
        raise ValueError(f"{fmt.path}: not readable as CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{fmt.path}: not {fmt.encoding} text past the first rows ({exc.reason}); "
            "save it as UTF-8"
        ) from None


# Distinct raw values kept per column while scanning: enough to list a
# target's classes, bounded for columns of unique values.
MAX_DISTINCT = 1000


def chunks(fmt: CsvFormat, size: int = CHUNK_ROWS):
    """records(fmt) in lists of `size` (the last one shorter)."""
    chunk = []
    for record in records(fmt):
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def finite_numbers(fmt: CsvFormat, cells: list):
    """The cells as a float64 array when every one is a finite number, else None
    (then the caller goes cell by cell, to say which is missing or wrong)."""
    try:
        if fmt.decimal == ",":
            values = np.array([float(cell.replace(",", ".")) for cell in cells])
        else:
            values = np.array([float(cell) for cell in cells])
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


@dataclass
class ColumnScan:
    """What one pass over the file learned about one column."""

    name: str
    numbers: int = 0
    texts: int = 0
    missing: int = 0
    first_missing: int = 0  # its line
    first_text: tuple = ()  # (line, cell)
    first_infinite: tuple = ()  # (line, cell)
    distinct: dict = field(default_factory=dict)  # stripped cell -> count, up to MAX_DISTINCT
    row_offset: float | None = None  # 0 or 1 while the column counts rows from there
    low: float = np.inf  # of its finite numbers
    high: float = -np.inf

    @property
    def numeric(self) -> bool:
        """Mostly numbers: the text cells in it are then mistakes to report."""
        return self.numbers > 0 and self.numbers >= self.texts

    @property
    def row_numbers(self) -> bool:
        """0, 1, 2, ... (or 1, 2, 3, ...) in file order: a row index, not a feature."""
        return self.row_offset is not None

    def add(self, fmt: CsvFormat, line: int, row: int, cell: str):
        text = cell.strip()
        if text.lower() in MISSING:
            self.missing += 1
            self.first_missing = self.first_missing or line
            self.row_offset = None
            return
        if text in self.distinct or len(self.distinct) < MAX_DISTINCT:
            self.distinct[text] = self.distinct.get(text, 0) + 1
        try:
            value = fmt.number(text)
        except ValueError:
            self.texts += 1
            self.first_text = self.first_text or (line, cell)
            self.row_offset = None
            return
        self.numbers += 1
        if not np.isfinite(value):
            self.first_infinite = self.first_infinite or (line, cell)
        else:
            self.low, self.high = min(self.low, value), max(self.high, value)
        if row == 0:
            self.row_offset = value if value in (0.0, 1.0) else None
        elif self.row_offset is not None and value != row + self.row_offset:
            self.row_offset = None

    def add_cells(self, fmt: CsvFormat, lines: list, cells: list, first_row: int):
        """A chunk of the column: at once when all are finite numbers, else cell by cell."""
        values = finite_numbers(fmt, cells)
        if values is None:
            for k, (line, cell) in enumerate(zip(lines, cells)):
                self.add(fmt, line, first_row + k, cell)
            return
        self.numbers += len(values)
        self.low, self.high = min(self.low, values.min()), max(self.high, values.max())
        if len(self.distinct) < MAX_DISTINCT:
            for text, count in Counter(cell.strip() for cell in cells).items():
                if text in self.distinct or len(self.distinct) < MAX_DISTINCT:
                    self.distinct[text] = self.distinct.get(text, 0) + count
        if first_row == 0:
            self.row_offset = values[0] if values[0] in (0.0, 1.0) else None
        if self.row_offset is not None:
            expected = np.arange(first_row, first_row + len(values)) + self.row_offset
            if not np.array_equal(values, expected):
                self.row_offset = None


@dataclass
class FileScan:
    fmt: CsvFormat
    rows: int
    columns: dict  # name -> ColumnScan


def scan(fmt: CsvFormat) -> FileScan:
    """One pass over the file: per column, numbers vs text, missing cells, distinct values."""
    columns = [ColumnScan(name) for name in fmt.names]
    rows = 0
    for chunk in chunks(fmt):
        lines = [line for line, _ in chunk]
        for j, column in enumerate(columns):
            column.add_cells(fmt, lines, [cells[j] for _, cells in chunk], rows)
        rows += len(chunk)
    if rows == 0:
        raise ValueError(f"{fmt.path}: no data rows" + (" after the header" if fmt.header else ""))
    return FileScan(fmt, rows, {column.name: column for column in columns})


def check_column(fmt: CsvFormat, column: ColumnScan, *, allow_missing: bool):
    """The errors of a column used as numbers: text cells, infinities, missing cells."""
    if column.numeric and column.first_text:
        line, cell = column.first_text
        raise ValueError(
            f"{fmt.path}, line {line}: column {column.name!r} holds numbers, but this row has "
            f"{cell!r}"
        )
    if column.first_infinite:
        line, cell = column.first_infinite
        raise ValueError(
            f"{fmt.path}, line {line}: column {column.name!r} must be finite; got {cell!r}"
        )
    if column.missing and not allow_missing:
        raise ValueError(
            f"{fmt.path}, line {column.first_missing}: column {column.name!r} has no value "
            f"({column.missing} row(s) like this); --impute mean, median or drop fills or "
            "skips them"
        )


@dataclass
class Feature:
    """One input column: a number, or a category one-hot encoded over `categories`."""

    column: str
    categories: list | None = None  # None: a number
    fill: float | str | None = None  # what a missing cell becomes

    @property
    def width(self) -> int:
        return 1 if self.categories is None else len(self.categories)

    def input_names(self) -> list:
        if self.categories is None:
            return [self.column]
        return [f"{self.column}={category}" for category in self.categories]

    def to_json(self) -> dict:
        return {"column": self.column, "categories": self.categories, "fill": self.fill}


class Encoding:
    """Columns of a CSV file -> the numeric inputs of a network, and back to JSON."""

    def __init__(self, features: list):
        self.features = features
        self._index = [
            None if f.categories is None else {c: k for k, c in enumerate(f.categories)}
            for f in features
        ]

    @classmethod
    def from_scan(cls, file_scan: FileScan, names: list, *, allow_missing: bool) -> Encoding:
        fmt = file_scan.fmt
        features = []
        for name in names:
            column = file_scan.columns[name]
            check_column(fmt, column, allow_missing=allow_missing)
            if column.numeric or not column.texts:
                features.append(Feature(name))
                continue
            if len(column.distinct) > MAX_CATEGORIES:
                raise ValueError(
                    f"{fmt.path}: column {name!r} has more than {MAX_CATEGORIES} distinct text "
                    f"values (e.g. {column.first_text[1]!r}), too many to one-hot encode; "
                    f"--drop {name} if it is an identifier"
                )
            features.append(Feature(name, sorted(column.distinct)))
        return cls(features)

    @classmethod
    def from_json(cls, spec: list) -> Encoding:
        """From a model file's metadata; TypeError/KeyError when it is not what to_json wrote."""
        features = []
        for item in spec:
            categories = item.get("categories")
            if categories is not None:
                categories = [str(c) for c in categories]
            fill = item.get("fill")
            if not (fill is None or isinstance(fill, (str, float, int))):
                raise TypeError(f"fill {fill!r}")
            features.append(Feature(str(item["column"]), categories, fill))
        return cls(features)

    @classmethod
    def numeric(cls, names: list) -> Encoding:
        return cls([Feature(name) for name in names])

    def to_json(self) -> list:
        return [f.to_json() for f in self.features]

    @property
    def columns(self) -> list:
        return [f.column for f in self.features]

    @property
    def input_names(self) -> list:
        return [name for f in self.features for name in f.input_names()]

    @property
    def width(self) -> int:
        return sum(f.width for f in self.features)

    def positions(self, fmt: CsvFormat) -> list:
        """Where each feature column is in the file; an error naming the ones missing."""
        missing = [c for c in self.columns if c not in fmt.names]
        if missing:
            raise ValueError(
                f"{fmt.path}: no column {', '.join(map(repr, missing))}; the model takes "
                f"{', '.join(map(repr, self.columns))} and the file has "
                f"{', '.join(map(repr, fmt.names))}"
            )
        return [fmt.names.index(c) for c in self.columns]

    def encode(self, fmt: CsvFormat, chunk: list, positions: list, unseen: dict, out=None):
        """The rows of `chunk` ((line, cells) pairs) as a float64 matrix (written into
        `out`, zeros of the right shape, when given); a missing cell is NaN unless its
        feature has a fill value; an unseen category is a row of zeros, counted in
        unseen[(column, value)]."""
        x = np.zeros((len(chunk), self.width)) if out is None else out
        offset = 0
        for feature, index, position in zip(self.features, self._index, positions):
            cells = [row[position] for _, row in chunk]
            block = x[:, offset : offset + feature.width]
            offset += feature.width
            if index is None:
                values = finite_numbers(fmt, cells)
                if values is None:
                    values = [
                        self._number(fmt, line, feature, cell)
                        for (line, _), cell in zip(chunk, cells)
                    ]
                block[:, 0] = values
                continue
            for i, cell in enumerate(cells):
                text = cell.strip()
                if text.lower() in MISSING:
                    if feature.fill is None:
                        block[i] = np.nan
                        continue
                    text = feature.fill
                k = index.get(text)
                if k is None:
                    unseen[feature.column, text] = unseen.get((feature.column, text), 0) + 1
                else:
                    block[i, k] = 1.0
        return x

    @staticmethod
    def _number(fmt: CsvFormat, line: int, feature: Feature, cell: str) -> float:
        """One cell of a number column: its value, its fill value, or NaN when missing."""
        if is_missing(cell):
            return np.nan if feature.fill is None else feature.fill
        try:
            value = fmt.number(cell)
        except ValueError:
            raise ValueError(
                f"{fmt.path}, line {line}: column {feature.column!r} must be a number; got {cell!r}"
            ) from None
        if not np.isfinite(value):
            raise ValueError(f"{fmt.path}, line {line}: column {feature.column!r} must be finite")
        return value

    def set_fills(self, x: np.ndarray, method: str, distinct_counts: dict):
        """Fill values from the (training) rows of x: the mean or median of a
        number column, the most frequent category of a text column."""
        offset = 0
        for feature in self.features:
            if feature.categories is None:
                values = x[:, offset]
                values = values[~np.isnan(values)]
                if values.size == 0:
                    raise ValueError(f"column {feature.column!r} has no values to {method} from")
                statistic = np.mean(values) if method == "mean" else np.median(values)
                feature.fill = float(statistic)
            else:
                counts = distinct_counts[feature.column]
                feature.fill = max(feature.categories, key=lambda c: (counts.get(c, 0), c))
            offset += feature.width

    def fill_missing(self, x: np.ndarray):
        """Writes each feature's fill value into the NaN cells of x, in place."""
        offset = 0
        for feature, index in zip(self.features, self._index):
            block = x[:, offset : offset + feature.width]
            rows = np.isnan(block).any(axis=1)
            if rows.any():
                if index is None:
                    block[rows, 0] = feature.fill
                else:
                    block[rows] = 0.0
                    block[rows, index[feature.fill]] = 1.0
            offset += feature.width
