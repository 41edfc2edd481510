r"""Spot, then recognise, on the built-in synthetic long videos: STRS against
recognition on the true intervals, and the frames per second of the whole chain.

  python bench/spot_then_recognise.py --run=runs/spot_synthetic --model=runs/loso_synthetic/model \
      --out=bench/runs/spotting/strs.json

``--run``: a finished spotting run of configs/spot_synthetic.py (its config.json and
intervals.json); ``--model``: a recognition model folder trained on the synthetic clips
(configs/loso_synthetic.py: its 16 fold models; the clips' subjects are none of the
long videos' subjects). Each video is drawn again from its seed. For each spotter, every
correctly spotted micro-expression (IoU >= 0.5 with a true one) is classified from its
frames onset..offset, the apex at its largest micro-span strength, exactly as
``faceslueth_jax.analyze`` does; every true micro-expression is classified from its
true onset, apex and offset. Recognition F1 is STRS's (F1 of the class-averaged
precision and recall, ``spotting_metrics.recognition_on_spotted``), with UF1 and UAR;

    STRS = spotting F1 (overall) x recognition F1 on the spotted micro-expressions.

The intervals come from a bootstrap over subjects (2000 draws) of the recognised pairs.
Also timed: the whole chain (stream, features, baseline spotting, recognition of every
micro-expression) on one of the videos, in frames per second.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import ml_collections
import numpy as np
from absl import app, flags


from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import spotting_metrics
from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.inference import analyze, model_folder
from faceslueth_jax.spotting import videos as video_data
from tfds_builders.synthetic_lv.synthetic_lv_dataset_builder import (
    SyntheticLvConfig, subject_video)

flags.DEFINE_string("run", None, "a finished spotting run's workdir")
flags.DEFINE_string("model", None, "a recognition model folder")
flags.DEFINE_string("out", None, "where the JSON goes")
flags.DEFINE_integer("draws", 2000, "bootstrap draws")
FLAGS = flags.FLAGS


@dataclasses.dataclass
class DrawnVideo:
    """A synthetic long video as analyze's ``Source``: frames drawn on demand."""
    video: object
    path: pathlib.Path
    fps: float

    @property
    def num_frames(self) -> int:
        return self.video.num_frames

    def frames(self, start: int = 0, stop: int | None = None):
        for t in range(start, self.video.num_frames if stop is None else stop):
            grey = np.clip(np.rint(self.video.frame(t)), 0, 255).astype(np.uint8)
            yield np.repeat(grey[..., None], 3, axis=-1)


def recognised(source, intervals: list, model) -> list:
    """The intervals with the model's class as their label."""
    if not intervals:
        return []
    probs, _ = analyze.recognise(source, intervals, model, "auto", with_pictures=False)
    return [dataclasses.replace(i, label=int(np.argmax(p))) for i, p in zip(intervals, probs)]


def bootstrap(pairs_by_subject: dict, draws: int, seed: int = 0) -> list:
    """95% interval of the recognition F1 over subjects (pairs resampled by subject)."""
    subjects = sorted(pairs_by_subject)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick = rng.integers(0, len(subjects), len(subjects))
        pairs = [p for j in pick for p in pairs_by_subject[subjects[j]]]
        values.append(spotting_metrics.recognition_on_spotted(pairs, 3)
                      ["f1_of_mean_precision_recall"])
    return [float(v) for v in np.percentile(values, [2.5, 97.5])]


def main(argv):
    del argv
    run = pathlib.Path(FLAGS.run)
    config = ml_collections.ConfigDict(json.loads((run / "config.json").read_text()))
    found = json.loads((run / "intervals.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    model = model_folder.restore(FLAGS.model)
    videos, _, _ = video_data.load(config.data, say=lambda _: None)
    lv_config = SyntheticLvConfig.named(**dict(config.data.synthetic))
    sources, truth_pairs, spotted_pairs = {}, {}, {}
    started = time.perf_counter()
    for v in videos:
        i = int(v.video_id[1:])
        source = DrawnVideo(subject_video(lv_config, i), pathlib.Path(v.video_id), v.fps)
        sources[v.key] = source
        true_micro = [e for e in v.truth if e.kind == "micro"]
        truth_pairs[v.subject] = [(v.key, r, t) for r, t in
                                  zip(recognised(source, true_micro, model), true_micro)]
        for spotter in metrics["spotters"]:
            spotted = [Interval(s["onset"], s["offset"], s["kind"], s.get("score", 0.0))
                       for s in found[v.key][spotter]]
            pairs = spotting_metrics.spotting_scores({v.key: (spotted, v.truth)})["micro_pairs"]
            hits = analyze.with_apexes([s for _, s, _ in pairs], v.blocks, v.fps)
            spotted_pairs.setdefault(spotter, {})[v.subject] = [
                (v.key, r, t) for r, (_, _, t) in zip(recognised(source, hits, model), pairs)]
        print(f"{v.key}: {len(true_micro)} true micro recognised", flush=True)
    recognition_seconds = time.perf_counter() - started
    out = {"run": str(run), "model": str(FLAGS.model), "model_name": model.meta["model"],
           "members": model.num_members, "recognition_seconds": round(recognition_seconds, 1),
           "true_intervals": {}, "spotters": {}}
    everything = [p for ps in truth_pairs.values() for p in ps]
    out["true_intervals"] = dict(spotting_metrics.recognition_on_spotted(everything, 3),
                                 f1_interval95=bootstrap(truth_pairs, FLAGS.draws))
    for spotter, by_subject in spotted_pairs.items():
        pairs = [p for ps in by_subject.values() for p in ps]
        rec = spotting_metrics.recognition_on_spotted(pairs, 3)
        spotting = metrics["spotters"][spotter]
        out["spotters"][spotter] = {
            "spotting_f1_overall": spotting["overall"]["f1"],
            "spotting_f1_micro": spotting["micro"]["f1"],
            "recognition_on_spotted": dict(rec, f1_interval95=bootstrap(by_subject, FLAGS.draws)),
            "strs": spotting_metrics.strs(spotting["overall"]["f1"],
                                          rec["f1_of_mean_precision_recall"])}
    # the whole chain on one video, as analyze runs it (baseline spotter, recognition)
    key = videos[0].key
    chain_started = time.perf_counter()
    result = analyze.analyze(sources[key], "baseline", analyze.DEFAULT_Z, model, "whole")
    chain = time.perf_counter() - chain_started
    out["chain"] = {"video": key, "frames": sources[key].num_frames,
                    "micro_recognised": sum("class" in r for r in result["intervals"]),
                    "seconds": round(chain, 1),
                    "frames_per_second": round(sources[key].num_frames / chain, 1),
                    "parts": result["seconds"], "machine": "2-core CPU"}
    atomic_files.write_json(FLAGS.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "spotters"}, indent=1))
    print(json.dumps(out["spotters"], indent=1))
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["run", "model", "out"])
    app.run(lambda argv: sys.exit(main(argv)))
