"""A one-line progress bar: which folds, epoch, fold-averaged loss, elapsed and ETA."""

from __future__ import annotations

import sys
import time

import numpy as np


class Progress:
    def __init__(self, label: str, folds_per_chunk: int = 1, stream=None, width: int = 24):
        self.label = label
        self.folds_per_chunk = folds_per_chunk
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.first_done = None
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_print = 0.0

    def __call__(self, chunk: int, num_chunks: int, epoch: int, epochs: int, record) -> None:
        done, total = chunk * epochs + epoch + 1, num_chunks * epochs
        now = time.monotonic()
        if self.first_done is None:  # the first epoch includes compilation
            self.first_done = (now, done)
        t0, d0 = self.first_done
        rate = (now - t0) / (done - d0) if done > d0 else None
        eta = "--:--" if rate is None else _clock(rate * (total - done))
        losses = np.asarray(record["loss"], np.float64)
        finite = losses[np.isfinite(losses)]
        loss = f"{finite.mean():.4f}" if finite.size else "nan"
        if finite.size < losses.size:
            loss += f" ({losses.size - finite.size} diverged)"
        filled = int(self.width * done / total)
        where = f"epoch {epoch + 1}/{epochs}"
        if num_chunks > 1 and self.folds_per_chunk == 1:
            where = f"fold {chunk + 1}/{num_chunks}, " + where
        elif num_chunks > 1:
            where = f"folds chunk {chunk + 1}/{num_chunks} ({self.folds_per_chunk} each), " + where
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{where}  fold-mean loss {loss}  elapsed {_clock(now - self.start)}  "
                f"eta {eta}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
        elif done == total or now - self._last_print > 10 or done == 1:
            self.stream.write(line + "\n")
            self._last_print = now
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
