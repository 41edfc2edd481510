"""What a layer may know of the training batch it sees: which of its samples are
real, and where this device's share sits in the whole batch.

Every batch has the same shape B: the trainer pads a fold's batches with weight-0
fillers where the fold has no samples for them (``fold_step.batch_weights``) and,
under data parallelism, gives each of D devices B / D
samples. While a training step runs the model it sets ``within(mask, offset, size)``:
``mask`` (B/D,) True for real samples, ``offset`` the index of this device's first
sample in the batch, ``size`` = B. Layers that pool over the batch (BatchNorm) count
only real samples; layers that draw per sample (dropout, stochastic depth) draw
sample i's randomness from key i of a split over the whole batch, so a sample's
draw does not depend on the placement. Outside a training step ``current()`` is
None. A model that folds more rows per sample into the batch (B*T frames; apex and
onset) folds them sample-major: sample b's rows are b*k .. b*k + k-1.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses

import jax


@dataclasses.dataclass(frozen=True)
class Batch:
    mask: jax.Array    # (b,) bool, this device's samples
    offset: jax.Array  # () int, index of this device's first sample in the batch
    size: int          # B, samples in the whole batch


_CURRENT: contextvars.ContextVar = contextvars.ContextVar("batch", default=None)


@contextlib.contextmanager
def within(mask, offset, size: int):
    """Run the block (a model's forward pass) on this device's share of a batch."""
    token = _CURRENT.set(Batch(mask, offset, size))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Batch | None:
    return _CURRENT.get()
