"""Seconds per clip of ``predict`` on this machine: the first call (TV-L1 and the
model compiled) and later calls, from frames on disk, with and without pictures.

  python bench/predict_time.py --model=runs/model_synthetic/model [--clips=6]

Writes ``--clips`` new synthetic clips (JPEG frames, at the model's frame size)
into a temporary folder, then times ``inference.predict.predict`` on the first
one, on each later one alone, and on all of them in one call.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import cv2
import numpy as np

import faceslueth_jax
from faceslueth_jax.inference import predict
from tfds_builders.synthetic_me import write_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--clips", type=int, default=6)
    args = parser.parse_args()
    started = time.perf_counter()
    model = faceslueth_jax.restore(args.model)
    print(f"restore: {time.perf_counter() - started:.2f} s ({model.meta['model']}, "
          f"{model.num_members} member(s))")
    size = model.meta["chain"]["record"]["face_size"]
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for k in range(args.clips):
            frames, _ = write_clip.make_frames(("negative", "positive", "surprise")[k % 3],
                                               seed=2000 + k, size=size)
            folder = pathlib.Path(tmp, f"clip{k}")
            folder.mkdir()
            for i, f in enumerate(frames):
                cv2.imwrite(str(folder / f"img{i}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 95])
            folders.append(folder)
        for pictures in (False, True):
            times = []
            for folder in folders:
                t = time.perf_counter()
                predict.predict(model, [folder], with_pictures=pictures)
                times.append(time.perf_counter() - t)
            t = time.perf_counter()
            predict.predict(model, folders, with_pictures=pictures)
            batch = time.perf_counter() - t
            label = "with pictures" if pictures else "no pictures"
            print(f"{label}: first call {times[0]:.2f} s, later calls median "
                  f"{np.median(times[1:]):.2f} s per clip (min {min(times[1:]):.2f}, max "
                  f"{max(times[1:]):.2f}), {len(folders)} clips in one call "
                  f"{batch / len(folders):.2f} s per clip")


if __name__ == "__main__":
    main()
