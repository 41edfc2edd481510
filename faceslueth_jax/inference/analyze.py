"""A long video, end to end: stream it, find the face once and follow it, spot the
micro- and macro-expressions, recognise each micro-expression with a model folder.

  1. frames stream from the video file (OpenCV) or a folder of frames, one at a time,
     through ``preprocess.video_features`` (memory: the spans' face crops);
  2. the spotter turns the motion features into intervals: 'baseline' is MDMD
     (``spotting.mdmd``) with its threshold z fixed before the video is seen
     (``--z``; default ``DEFAULT_Z``), or a spotter model folder (the learned spotter
     of a spotting run, ``spotting.learned``'s rule);
  3. each micro-expression's apex is the frame of largest motion strength (micro span)
     inside it; with a recognition model folder its frames onset..offset are read
     again (a second pass that keeps one interval's frames) and classified as
     ``predict`` classifies a clip, with its attention sheet.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import sys
import time

import cv2
import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import IOU_THRESHOLD, Interval, spotting_scores
from faceslueth_jax.inference import clip_input, model_folder
from faceslueth_jax.inference.command import DEFAULT_Z
from faceslueth_jax.inference.predict import classify
from faceslueth_jax.preprocess import face, frames as frame_files, motion_features, \
    video_features
from faceslueth_jax.preprocess.video_features import Windows
from faceslueth_jax.spotting import learned, mdmd, truth


class AnalyzeError(ValueError):
    """Input analyze cannot use; one line naming the file."""


@dataclasses.dataclass
class Source:
    """A long video to stream: ``frames()`` yields (H, W, 3) RGB uint8 frames."""
    path: pathlib.Path
    fps: float
    num_frames: int | None  # None where the container does not say

    def frames(self, start: int = 0, stop: int | None = None):
        """Frames start..stop-1 (all by default), one at a time, each checked as predict
        checks a clip's (``clip_input.FrameSizes``: one size, at least MIN_SIDE px)."""
        check = clip_input.FrameSizes(self.path)
        try:
            if self.path.is_dir():
                for f in clip_input.frame_files(self.path)[start:stop]:
                    try:
                        frame = frame_files.read_frame(f, color=True)
                    except frame_files.FrameError as e:
                        raise AnalyzeError(str(e)) from None
                    check(frame, f.name)
                    yield frame
                return
            capture = cv2.VideoCapture(str(self.path))
            if start:
                capture.set(cv2.CAP_PROP_POS_FRAMES, start)
            t = start
            try:
                while stop is None or t < stop:
                    ok, bgr = capture.read()
                    if not ok:
                        return
                    check(bgr, f"frame {t}")
                    yield np.ascontiguousarray(bgr[..., ::-1])
                    t += 1
            finally:
                capture.release()
        except clip_input.ClipInputError as e:
            raise AnalyzeError(str(e)) from None


# the frame rates analyze takes: the spans and interval limits are seconds times the
# rate (``Windows.for_fps``); below 4 fps a micro-expression (at most 0.5 s) is shorter
# than the 2 frames an interval needs, and above 1000 fps the macro span holds 1300
# face crops in memory (a variable-rate container's time base, e.g. 90000, lands here)
MIN_FPS, MAX_FPS = 4.0, 1000.0


def fps_problem(fps: float) -> str | None:
    """Why ``fps`` is no frame rate analyze can use (to follow the value), or None."""
    if not (math.isfinite(fps) and fps > 0):
        return "is not a frame rate (frames per second: a finite number above 0)"
    if not MIN_FPS <= fps <= MAX_FPS:
        return f"is outside {MIN_FPS:g}..{MAX_FPS:g} frames per second, the rates analyze spots at"
    return None


def _first_frame(source: Source):
    """The first frame of ``source`` (checked by ``Source.frames``), None if none decodes."""
    frames = source.frames(0, 1)
    try:
        return next(frames, None)
    finally:
        frames.close()


def open_video(path, fps: float | None = None) -> Source:
    """The video at ``path`` (a file OpenCV reads, or a folder of frames at ``fps``,
    30 unless given). Refused before any frame is analysed (AnalyzeError, one line):
    a frame rate outside MIN_FPS..MAX_FPS (``fps_problem``) and a first frame under
    ``clip_input.MIN_SIDE`` pixels; a frame of another size than the first is refused
    when the stream reaches it (``Source.frames``)."""
    if fps is not None and fps_problem(fps):
        raise AnalyzeError(f"--fps={fps:g} {fps_problem(fps)}")
    path = pathlib.Path(path)
    if path.is_dir():
        files = clip_input.frame_files(path)
        if not files:
            raise AnalyzeError(f"no frames ({', '.join(frame_files.IMAGE_SUFFIXES)}) in folder "
                               f"{path}")
        source = Source(path, float(fps or 30.0), len(files))
        _first_frame(source)  # readable, large enough
        return source
    if not path.exists():
        raise AnalyzeError(f"no such video: {path}")
    if path.suffix.lower() not in clip_input.VIDEO_SUFFIXES:
        raise AnalyzeError(f"not a video ({', '.join(clip_input.VIDEO_SUFFIXES)}) or a folder "
                           f"of frames: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise AnalyzeError(f"OpenCV cannot open the video {path}")
    rate = capture.get(cv2.CAP_PROP_FPS) or 0.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    capture.release()
    if fps is None:
        if not (math.isfinite(rate) and rate > 0):
            raise AnalyzeError(f"{path}: the container gives no frame rate; pass --fps")
        if fps_problem(rate):
            raise AnalyzeError(f"{path}: the container's frame rate {rate:g} "
                               f"{fps_problem(rate)}; pass the true rate as --fps")
    source = Source(path, float(fps or rate), count)
    if _first_frame(source) is None:  # decoded, large enough
        raise AnalyzeError(f"OpenCV decoded no frame of the video {path}")
    return source


class Progress:
    """'analysing [#####.....] 1200/3000 frames, 41.3 fps' on stderr: redrawn in place on
    a terminal, else one line per tenth of the video (or per 1000 frames)."""

    def __init__(self, total: int | None, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.tty = stream.isatty()
        self.every = 25 if self.tty else max(1, (total // 10) if total else 1000)
        self.started = time.perf_counter()
        self.done = 0

    def __call__(self, t: int) -> None:
        self.done = t + 1
        if self.done % self.every == 0 and self.done != self.total:
            self.stream.write(("\r" if self.tty else "") + self.line()
                              + ("" if self.tty else "\n"))
            self.stream.flush()

    @property
    def fps(self) -> float:
        return self.done / max(time.perf_counter() - self.started, 1e-9)

    def line(self) -> str:
        if self.total:
            filled = round(24 * min(self.done, self.total) / self.total)
            return (f"analysing [{'#' * filled}{'.' * (24 - filled)}] {self.done}/{self.total} "
                    f"frames, {self.fps:.1f} fps")
        return f"analysing {self.done} frames, {self.fps:.1f} fps"

    def close(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()


def spot_baseline(feats: video_features.VideoFeatures, z: float) -> list:
    return mdmd.spot(feats.blocks, Windows.for_fps(feats.fps), z, feats.eyes,
                     video_features.FLOW_SIZE, feats.head)


def spot_learned(feats: video_features.VideoFeatures, spotter: model_folder.TrainedModel,
                 batch_size: int = 1024) -> list:
    rule = spotter.meta["spotter"]
    positions, windows = learned.video_inputs(feats.blocks, feats.fps, tuple(rule["spans"]),
                                              int(rule["window"]))
    probs = np.concatenate([spotter.probabilities({"window": windows[i:i + batch_size]})
                            for i in range(0, len(windows), batch_size)])
    return learned.intervals(probs, positions, feats.fps, feats.num_frames)


def with_apexes(intervals: list, blocks: dict, fps: float) -> list:
    """Each interval with its apex: the frame of largest strength at its kind's span
    (``blocks``: span k -> (T, G^2) block values of a video at ``fps``)."""
    w = Windows.for_fps(fps)
    s = motion_features.strengths({k: blocks[k] for k in w.spans})
    out = []
    for it in intervals:
        curve = s[w.k_micro if it.kind == "micro" else w.k_macro][it.onset:it.offset + 1]
        out.append(dataclasses.replace(it, apex=it.onset + int(np.argmax(curve))))
    return out


def recognise(source: Source, intervals: list, model: model_folder.TrainedModel, crop: str,
              with_pictures: bool) -> tuple[list, list]:
    """(per micro interval its class probabilities, the attention sheets): its frames
    onset..offset read again and classified as a clip (``predict.classify``)."""
    views, flows, faces, facts = [], [], [], []
    for it in intervals:
        clip = clip_input.Clip(pathlib.Path(f"{source.path.name}@{it.onset}-{it.offset}"),
                               list(source.frames(it.onset, it.offset + 1)))
        if len(clip.frames) < 2:
            raise AnalyzeError(f"{source.path}: frames {it.onset}..{it.offset} could not be read "
                               "again (the video is shorter than its first pass)")
        apex = min(max(it.apex - it.onset, 1), len(clip.frames) - 1)
        try:
            v, raw, face_, fact = clip_input.model_inputs(
                [clip], model.meta["chain"], model.config, 0, apex, crop)
        except clip_input.ClipInputError as e:
            raise AnalyzeError(str(e)) from None
        views.append(v)
        flows.append(raw[0])
        faces.append(face_[0])
        facts.extend(fact)
    probs, sheets = classify(model, views, flows, faces, facts, 32, with_pictures)
    return list(probs), sheets


def analyze(source: Source, spotter="baseline", z: float = DEFAULT_Z, model=None,
            crop: str = "auto", with_pictures: bool = False,
            progress: Progress | None = None) -> dict:
    """Everything analyze finds in ``source``: 'features', 'intervals' (each with its
    apex; recognised micro-expressions with 'class' and 'probabilities'), 'sheets'
    and 'seconds'. ``spotter``: 'baseline' or a restored spotter model folder;
    ``model``: a restored recognition model folder or None. ``crop``: 'detect' or
    'whole' for both passes; 'auto' detects the face for spotting and crops each
    micro-expression as the recognition model's training data."""
    started = time.perf_counter()
    try:
        feats = video_features.features(source.frames(), source.fps,
                                        crop="detect" if crop == "auto" else crop,
                                        on_frame=progress)
    except face.FaceNotFound:
        raise AnalyzeError(f"{source.path}: no face found in the first frame; for a video "
                           "that is already a face crop pass --crop=whole") from None
    except AnalyzeError:  # a frame Source.frames refused: named already
        raise
    except ValueError as e:
        raise AnalyzeError(f"{source.path}: {e}") from None
    finally:
        if progress is not None:
            progress.close()
    streamed = time.perf_counter()
    found = spot_baseline(feats, z) if spotter == "baseline" else spot_learned(feats, spotter)
    found = with_apexes(sorted(found, key=lambda i: i.onset), feats.blocks, feats.fps)
    micro = [i for i in found if i.kind == "micro"]
    probs, sheets = (recognise(source, micro, model, crop, with_pictures)
                     if model is not None and micro else ([], []))
    recognised = dict(zip([(i.onset, i.offset) for i in micro], probs))
    rows = []
    for it in found:
        row = {"onset": it.onset, "apex": it.apex, "offset": it.offset, "kind": it.kind,
               "score": round(float(it.score), 4),
               "seconds": [round(it.onset / feats.fps, 3), round(it.offset / feats.fps, 3)]}
        q = recognised.get((it.onset, it.offset))
        if q is not None:
            row["class"] = model.class_names[int(np.argmax(q))]
            row["probabilities"] = {n: round(float(x), 4) for n, x in zip(model.class_names, q)}
        rows.append(row)
    done = time.perf_counter()
    return {"features": feats, "intervals": rows, "sheets": sheets,
            "seconds": {"stream_and_features": round(streamed - started, 2),
                        "spot_and_recognise": round(done - streamed, 2),
                        "frames_per_second": round(feats.num_frames / max(done - started, 1e-9),
                                                   1)}}


def as_intervals(rows: list, class_names=()) -> list:
    """``Interval``s of analyze's rows (the class as label where recognised)."""
    return [Interval(r["onset"], r["offset"], r["kind"], r["score"],
                     list(class_names).index(r["class"]) if "class" in r else -1, r["apex"])
            for r in rows]


def read_truth(path) -> list:
    """The true intervals of ``spotting.truth.read_truth`` (a JSON list, a JSON object
    with 'intervals' or 'events', or a CSV onset,offset,kind); AnalyzeError naming the
    file (and the entry or line) otherwise."""
    try:
        return truth.read_truth(path)
    except truth.TruthError as e:
        raise AnalyzeError(str(e)) from None


def intervals_json(intervals: list) -> list:
    """``Interval``s as intervals.json lists them (onset, apex, offset, kind, label)."""
    return [{"onset": i.onset, "apex": i.apex, "offset": i.offset, "kind": i.kind,
             "label": i.label} for i in intervals]


def truth_scores(rows: list, truth: list) -> dict:
    """MEGC's scores of analyze's ``rows`` against the true intervals of the same video:
    per type (micro, macro) and overall (pooled counts) TP, FP, FN, precision, recall and
    F1 at IoU >= 0.5 (``evaluation.spotting_metrics``)."""
    scores = spotting_scores({"video": (as_intervals(rows), list(truth))})
    return {"iou_threshold": IOU_THRESHOLD,
            **{kind: scores[kind] for kind in ("micro", "macro", "overall")}}


def scores_table(scores: dict) -> str:
    """The scores as printed lines: one per type and overall."""
    def show(x):
        return "-" if x is None else f"{x:.3f}"
    lines = [f"scores at IoU >= {scores['iou_threshold']:g} (MEGC):  "
             f"{'TP':>4s} {'FP':>4s} {'FN':>4s} {'precision':>9s} {'recall':>7s} {'F1':>6s}"]
    for kind in ("micro", "macro", "overall"):
        s = scores[kind]
        lines.append(f"  {kind:<30s}{s['tp']:4d} {s['fp']:4d} {s['fn']:4d} "
                     f"{show(s['precision']):>9s} {show(s['recall']):>7s} {show(s['f1']):>6s}")
    return "\n".join(lines)
