"""The progress line fit(verbose=1) prints.

On a terminal one line per epoch is rewritten in place (carriage return)
while the epoch runs; the C training loop calls back at least every
`interval` seconds. When the output is not a terminal (a log file, a pipe)
nothing is rewritten: plain lines are printed, one per epoch, plus one at
most every `interval` seconds during epochs that take longer than that.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressLine"]

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
