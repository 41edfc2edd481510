"""Face detectors and 68-point landmarks: detection rate, time per frame and landmark
error, on the composite's apex faces and on synthetic faces whose landmarks are known.

  python bench/landmark_detectors.py --manual_dir ../shared/data/htnet_composite \
      [--synthetic 40] [--cnn_every 4] [--json bench/figures/landmark_detectors.json]

For each detector (``faceslueth_jax.preprocess.landmarks.DETECTORS``):

- composite: the 442 released apex crops (224x224, tightly cropped): faces found
  (dlib's detectors try no upsampling, then one), milliseconds per frame for the
  detector and for detector + 68-point predictor. ``--cnn_every K`` runs the CNN
  detector on every K-th crop only (about 0.4 s a frame on 2 cores). Also HTNet's
  landmark patches: samples whose eyes or mouth corners fall back to fixed
  coordinates with the Haar cascades against the 68 points (``data/htnet_patches``).
- synthetic: ``--synthetic`` faces of 128 px (tfds_builders/synthetic_me), each with
  known eye centres and mouth corners: faces found and the landmark error in px (mean
  and median over the four points of every face found), the predictor started from
  each detector's box.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import cv2
import numpy as np

from faceslueth_jax.atomic_files import write_json
from faceslueth_jax.data import htnet_patches
from faceslueth_jax.preprocess import landmarks
from tfds_builders.synthetic_me import synthetic_faces


def timed_detection(frames: list, detector: str) -> dict:
    """Faces found and ms per frame, for the detector alone and with the predictor."""
    found, detect_s, total_s = 0, 0.0, 0.0
    for frame in frames:
        start = time.perf_counter()
        boxes = landmarks.detect_boxes(frame, detector)
        detect_s += time.perf_counter() - start
        if boxes:
            found += 1
            landmarks.predict68(frame, boxes[0])
        total_s += time.perf_counter() - start
    n = len(frames)
    return {"frames": n, "found": found, "ms_per_frame_detector": round(1e3 * detect_s / n, 2),
            "ms_per_frame_with_landmarks": round(1e3 * total_s / n, 2)}


def composite(manual_dir: pathlib.Path, cnn_every: int) -> dict:
    files = sorted((manual_dir / "datasets" / "combined_datasets_whole").glob("*.jpg"))
    if not files:
        raise SystemExit(f"error: no apex crops in {manual_dir}/datasets/combined_datasets_whole")
    frames = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    out = {d: timed_detection(frames[::cnn_every] if d == "dlib_cnn" else frames, d)
           for d in landmarks.DETECTORS}
    apex = np.stack(frames)[..., None].astype(np.float32)
    patches = {}
    for method in ("haar", "landmarks68"):
        start, whole = time.perf_counter(), []
        points, fallback = htnet_patches.find_landmarks(apex, len(frames), method, "dlib_hog",
                                                        whole)
        stats = htnet_patches.spread(points, fallback)
        patches[method] = {"samples_with_a_fallback": stats["samples_with_a_fallback"],
                           "whole_image_boxes": len(whole),
                           "ms_per_frame": round(1e3 * (time.perf_counter() - start)
                                                 / len(frames), 2)}
    out["htnet_patches"] = patches
    return out


def synthetic(count: int) -> dict:
    out = {}
    faces = [synthetic_faces.make_subject(np.random.default_rng(seed), 128) for seed in range(count)]
    frames = [np.clip(np.rint(synthetic_faces.render(f)), 0, 255).astype(np.uint8) for f in faces]
    for detector in landmarks.DETECTORS:
        errors, start = [], time.perf_counter()
        for face, frame in zip(faces, frames):
            try:
                points, _ = landmarks.landmarks68(frame, detector)
            except landmarks.LandmarksNotFound:
                continue
            errors.append(np.linalg.norm(landmarks.eyes_and_mouth(points)
                                         - face.eyes_and_mouth(), axis=1))
        errors = np.array(errors)
        out[detector] = {"faces": count, "found": len(errors),
                         "ms_per_frame": round(1e3 * (time.perf_counter() - start) / count, 2),
                         "mean_error_px": round(float(errors.mean()), 2) if len(errors) else None,
                         "median_error_px": round(float(np.median(errors)), 2)
                         if len(errors) else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manual_dir", type=pathlib.Path, default=None,
                        help="HTNet's composite release (skipped when not given)")
    parser.add_argument("--synthetic", type=int, default=40)
    parser.add_argument("--cnn_every", type=int, default=4)
    parser.add_argument("--json", type=pathlib.Path, default=None)
    args = parser.parse_args()
    if landmarks.dlib_version() is None:
        raise SystemExit(f"error: this benchmark needs dlib: {landmarks.INSTALL}")
    result = {"dlib": landmarks.dlib_version(), "synthetic_128px": synthetic(args.synthetic)}
    if args.manual_dir:
        result["composite_apex_224px"] = composite(args.manual_dir, args.cnn_every)
    print(json.dumps(result, indent=1))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
