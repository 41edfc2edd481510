"""How many folds fit on a device at once, from the compiled program's own figures.

XLA reports, per device, what a compiled program needs (``memory_analysis()``):
arguments + outputs - aliased (donated) buffers + temporaries. Compiling the
epoch program for k = 1 and k = 2 folds per device gives

    bytes(k) ~ fixed + k * per_fold,   per_fold = bytes(2) - bytes(1),

(fixed: the resident data set and code), so at most
k_max = floor((budget - fixed) / per_fold) folds share a device. When a second fold
costs more than the first (bytes(2) > 2 bytes(1): XLA's temporaries need not grow
linearly), fixed is taken as 0, which over-counts every k >= 1: the plan errs safe.
"""

from __future__ import annotations

import dataclasses

import jax

HEADROOM = 0.9  # of a device's reported limit, for the runtime and fragmentation


@dataclasses.dataclass(frozen=True)
class Footprint:
    fixed: int     # bytes per device whatever the number of folds
    per_fold: int  # bytes per device for each further fold

    def bytes_for(self, folds_per_device: int) -> int:
        return self.fixed + folds_per_device * self.per_fold

    def folds_that_fit(self, budget: int) -> int:
        if self.per_fold <= 0:
            raise ValueError(f"per-fold footprint {self.per_fold} B: cannot size chunks")
        return (budget - self.fixed) // self.per_fold


def program_bytes(compiled) -> int:
    """Peak bytes per device of a compiled program (its own accounting)."""
    m = compiled.memory_analysis()
    return int(m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
               + m.temp_size_in_bytes)


def footprint(one_fold: int, two_folds: int) -> Footprint:
    per_fold = two_folds - one_fold
    return Footprint(fixed=max(one_fold - per_fold, 0), per_fold=per_fold)


def device_budget(configured: int = 0, devices=None) -> int | None:
    """Bytes a program may use per device: ``configured`` when set, else the smallest
    reported limit of this process's ``devices`` (default: all local ones) times
    HEADROOM; None when they report none (CPU, or devices compiled for, not held)."""
    if configured:
        return int(configured)
    local = set(jax.local_devices())
    limits = [(d.memory_stats() or {}).get("bytes_limit")
              for d in (jax.local_devices() if devices is None else devices) if d in local]
    limits = [x for x in limits if x]
    return int(min(limits) * HEADROOM) if limits else None
