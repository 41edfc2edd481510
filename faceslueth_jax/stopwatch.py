"""Wall-clock seconds per named part of a run (data, compile, train, ...).

    watch = Stopwatch()
    with watch("compile"):
        ...
    watch.seconds  # {"compile": 12.3, ...}, summed over every entry of a part
"""

from __future__ import annotations

import contextlib
import time


class Stopwatch:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, part: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - t0

    def rounded(self, digits: int = 2) -> dict[str, float]:
        return {k: round(v, digits) for k, v in self.seconds.items()}
