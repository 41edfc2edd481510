"""Seconds a clip to convert the MMEW and CAS(ME)^2 fixtures (tests/database_fixtures.py,
in each database's released layout) at the builders' default sizes: the base of the
conversion estimates in configs/loso_mmew.py and configs/loso_casme2me.py.

  python -m bench.fixture_build_time   (from the repository root: it reads tests/)

Each fixture is built twice into fresh folders; the second build is timed, so TV-L1's
compilation is left out (it is about a minute on 2 cores, once per size).
"""

from __future__ import annotations

import pathlib
import tempfile
import time

import tensorflow_datasets as tfds

from tests import database_fixtures as fx
from tfds_builders.building import quiet
from tfds_builders.casme2me import Casme2me
from tfds_builders.mmew import Mmew


def main() -> None:
    for cls, write in ((Mmew, fx.write_mmew), (Casme2me, fx.write_casme2me)):
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            manual = write(root / "manual")
            for attempt in range(2):
                with quiet():
                    builder = cls.from_fields(str(root / f"tfds{attempt}"), on_error="raise")
                started = time.perf_counter()
                with quiet(builder):
                    builder.download_and_prepare(
                        download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
                seconds = time.perf_counter() - started
            clips = len(builder.as_data_source()["train"])
            print(f"{builder.name}/{builder.builder_config.name}: {clips} clips in {seconds:.2f} s, "
                  f"{seconds / clips:.3f} s a clip")


if __name__ == "__main__":
    main()
