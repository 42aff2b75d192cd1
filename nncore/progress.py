"""The progress line fit(verbose=1) prints, and the command line's bar over epochs.

On a terminal one line per epoch is rewritten in place (carriage return)
while the epoch runs; the C training loop calls back at least every
`interval` seconds. When the output is not a terminal (a log file, a pipe)
nothing is rewritten: plain lines are printed, one per epoch, plus one at
most every `interval` seconds during epochs that take longer than that.
"""

from __future__ import annotations

import shutil
import sys
import time

__all__ = ["ProgressLine", "EpochBar", "epoch_bar"]

_BAR_WIDTH = 20


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _format_value(value: float) -> str:
    return (
        f"{value:.4e}"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4)
        else f"{value:.4f}"
    )


class ProgressLine:
    """One epoch's progress line. update() during the epoch, finish() at its end."""

    def __init__(self, epoch: int, epochs: int, total_batches: int, *, stream=None, live=None):
        self.stream = sys.stdout if stream is None else stream
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty())
        self.live = live
        self.total_batches = total_batches
        self.width = len(str(total_batches))
        self.start = time.perf_counter()
        self._last_length = 0
        self.stream.write(f"Epoch {epoch + 1}/{epochs}\n")
        self.stream.flush()

    @property
    def interval(self) -> float:
        """Seconds between calls from the C loop: often on a terminal, rarer in a log."""
        return 0.2 if self.live else 1.0

    def _line(self, batches_done: int, logs: dict) -> str:
        filled = _BAR_WIDTH * batches_done // max(self.total_batches, 1)
        if batches_done >= self.total_batches:
            bar = "=" * _BAR_WIDTH
        else:
            bar = "=" * filled + ">" + "." * (_BAR_WIDTH - filled - 1)
        elapsed = time.perf_counter() - self.start
        parts = [
            f"{batches_done:>{self.width}}/{self.total_batches} [{bar}] {_format_seconds(elapsed)}"
        ]
        parts += [f"{key}: {_format_value(value)}" for key, value in logs.items()]
        return " - ".join(parts)

    def _write(self, line: str, final: bool):
        if self.live:
            padding = " " * max(self._last_length - len(line), 0)
            self.stream.write("\r" + line + padding + ("\n" if final else ""))
            self._last_length = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def update(self, batches_done: int, loss: float):
        """Called from inside the epoch with the running mean loss."""
        self._write(self._line(batches_done, {"loss": loss}), final=False)

    def finish(self, batches_done: int, logs: dict):
        """The epoch's last line, with its metrics and validation scores."""
        self._write(self._line(batches_done, logs), final=True)


class EpochBar:
    """A bar over all the epochs of a fit: update(epochs_done, logs) after each.

    On a terminal the line is rewritten in place; elsewhere (a log file, a
    pipe) plain lines are printed, at most one per `interval` seconds plus the
    last one, with no control characters.
    """

    def __init__(self, total: int, *, stream=None, live=None, interval: float = 1.0):
        self.stream = sys.stderr if stream is None else stream
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty())
        self.live = live
        self.total = total
        self.interval = interval
        self.start = time.perf_counter()
        self._last_write = -float("inf")
        self._last_length = 0

    def _line(self, done: int, logs: dict) -> str:
        filled = _BAR_WIDTH * done // max(self.total, 1)
        bar = "=" * filled + "." * (_BAR_WIDTH - filled)
        elapsed = _format_seconds(time.perf_counter() - self.start)
        parts = [f"epoch {done:>{len(str(self.total))}}/{self.total} [{bar}] {elapsed}"]
        parts += [f"{key} {_format_value(value)}" for key, value in logs.items()]
        return " - ".join(parts)

    def update(self, done: int, logs: dict):
        now = time.perf_counter()
        if done < self.total and now - self._last_write < (0.1 if self.live else self.interval):
            return
        self._last_write = now
        line = self._line(done, logs)
        if self.live:
            padding = " " * max(self._last_length - len(line), 0)
            self.stream.write("\r" + line + padding)
            self._last_length = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.live and self._last_length:
            self.stream.write("\n")
            self.stream.flush()


class _TqdmBar:
    """EpochBar's interface over tqdm."""

    def __init__(self, tqdm, total: int, stream):
        # shutil's size falls back to 80x24 where a terminal reports 0x0 (some
        # pseudo-terminals), on which tqdm would draw nothing
        size = shutil.get_terminal_size()
        self.bar = tqdm(
            total=total, unit="epoch", file=stream, ncols=size.columns, nrows=size.lines
        )
        self.done = 0

    def update(self, done: int, logs: dict):
        self.bar.set_postfix({k: _format_value(v) for k, v in logs.items()}, refresh=False)
        self.bar.update(done - self.done)
        self.done = done

    def close(self):
        self.bar.close()


def epoch_bar(total: int, *, stream=None):
    """tqdm's bar when tqdm is installed and the stream is a terminal, else an EpochBar
    (tqdm draws with carriage returns even into files)."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty and isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return _TqdmBar(tqdm, total, stream)
    return EpochBar(total, stream=stream)
