"""The base of the project's TFDS builders: data sets that TFDS's public bucket does
not hold, so that making a builder never asks it."""

from __future__ import annotations

import contextlib

import tensorflow_datasets as tfds


@contextlib.contextmanager
def _no_bucket_lookup():
    info = tfds.core.DatasetInfo
    lookup = info.initialize_from_bucket
    info.initialize_from_bucket = lambda self: None
    try:
        yield
    finally:
        info.initialize_from_bucket = lookup


class LocalBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A builder whose records are made here, from generated data or a database's files.

    TFDS looks every data set not yet built up in its public bucket when a builder is
    made (``DatasetInfo.initialize_from_bucket``): a network request, and an empty
    temporary folder (``tmp*tfds``) it never removes. None of these data sets is
    there, so the lookup is skipped."""

    def __init__(self, **kwargs):
        with _no_bucket_lookup():
            super().__init__(**kwargs)
