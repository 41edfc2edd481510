r"""The training-free spotter on the real-photograph long videos
(``tfds_builders.photo_me``): MEGC scores, what it reports on nods, turns and blinks,
and analyze's speed.

  pip install -r requirements-bench.txt
  python -m tfds_builders.photo_me.write_photo_videos --out=/tmp/photo_lv
  python bench/spotting_photo_study.py --videos=/tmp/photo_lv \
      [--out=bench/runs/spotting_photo] [--features=/tmp/photo_lv/features] \
      [--spotter=runs/spot_synthetic/model]

Every video goes through analyze's chain (``inference.analyze.open_video``, then
``preprocess.video_features``: decode, find the face, follow it, flows), timed; its
features are kept in ``--features`` (a rerun reads them back). Then the spotter at
two honest thresholds:

  default      z = ``analyze.DEFAULT_Z``: chosen on the synthetic study's training
               folds, before any of these videos existed;
  per video    z chosen on the other videos (leave one video out, ``mdmd.choose_z``).

With ``--spotter``, the learned spotter of that model folder too (trained on the
synthetic long videos; nothing of these videos reaches it). Two ablations at the default
z: the eyes not used (every block counts, no blink rule) and no head rule.

Scores: MEGC's counts at IoU >= 0.5 summed over the videos; 95% intervals from a
bootstrap over videos (2000 draws). Distractors: spotted intervals that overlap a
nod, a turn or a blink and no expression, by kind. Results: <out>/results.json and
<out>/table.md.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import spotting_metrics as sm
from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.inference import analyze
from faceslueth_jax.preprocess import video_features
from faceslueth_jax.preprocess.video_features import Windows
from faceslueth_jax.spotting import mdmd

flags.DEFINE_string("videos", None, "the folder write_photo_videos wrote")
flags.DEFINE_string("out", "bench/runs/spotting_photo", "where results.json and table.md go")
flags.DEFINE_string("spotter", None, "a learned spotter's model folder (a spotting run's "
                    "model/, trained on other videos): scored beside the baseline")
flags.DEFINE_string("features", None, "where each video's features are kept "
                    "(default: <videos>/features)")
FLAGS = flags.FLAGS
DISTRACTORS = ("nod", "turn", "blink")


def video_files(folder: pathlib.Path) -> list:
    return sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".avi")
                  and not p.name.startswith("."))


def features_of(path: pathlib.Path, cache: pathlib.Path) -> tuple:
    """(VideoFeatures, seconds it took to compute them, kept with them)."""
    kept = cache / f"{path.name}.npz"
    if kept.exists():
        with np.load(kept) as z:
            blocks = {int(k[6:]): z[k] for k in z.files if k.startswith("blocks")}
            head = {int(k[4:]): z[k] for k in z.files if k.startswith("head")}
            return video_features.VideoFeatures(float(z["fps"]), blocks,
                                                tuple(int(x) for x in z["face_box"]),
                                                tuple(map(tuple, z["eyes"].tolist())),
                                                head), float(z["seconds"])
    source = analyze.open_video(path)
    started = time.perf_counter()
    feats = video_features.features(source.frames(), source.fps, crop="detect")
    seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    arrays = {**{f"blocks{k}": v for k, v in feats.blocks.items()},
              **{f"head{k}": v for k, v in feats.head.items()}}
    atomic_files.write_npz(kept, fps=feats.fps, face_box=np.array(feats.face_box),
                           eyes=np.array(feats.eyes), seconds=seconds, **arrays)
    return feats, seconds


def truth_of(path: pathlib.Path) -> tuple[list, list]:
    """(true expression intervals, distractor intervals) of a video."""
    data = json.loads(path.with_name(path.name + ".truth.json").read_text())
    expressions = [Interval(e["onset"], e["offset"], e["kind"]) for e in data["events"]]
    distractors = [(d["onset"], d["offset"], d["kind"]) for d in data["distractors"]]
    return expressions, distractors


def on_distractors(spotted: list, truth: list, distractors: list) -> dict:
    """Spotted intervals overlapping a distractor of each kind and no true interval:
    kind -> {'micro': n, 'macro': n}."""
    out = {k: {"micro": 0, "macro": 0} for k in DISTRACTORS}
    for s in spotted:
        if any(s.onset <= t.offset and t.onset <= s.offset for t in truth):
            continue
        for onset, offset, kind in distractors:
            if s.onset <= offset and onset <= s.offset:
                out[kind][s.kind] += 1
                break
    return out


def scored(videos: dict, found: dict, kinds: dict) -> dict:
    """Scores, intervals and distractor counts of ``found``: video -> spotted intervals."""
    pairs = {v: (found[v], videos[v][1]) for v in videos}
    scores = sm.spotting_scores(pairs)
    subjects, counts = sm.subject_counts(pairs, {v: v for v in videos})
    intervals = sm.bootstrap_f1(counts)
    hits = {k: {"micro": 0, "macro": 0} for k in DISTRACTORS}
    for v in videos:
        for kind, c in on_distractors(found[v], videos[v][1], videos[v][2]).items():
            for t in c:
                hits[kind][t] += c[t]
    by_rate = {}
    for rate in sorted(set(kinds.values())):
        chosen = {v: pairs[v] for v in videos if kinds[v] == rate}
        by_rate[rate] = {t: sm.spotting_scores(chosen)[t] for t in ("micro", "macro", "overall")}
    return {**{t: {**scores[t], "f1_interval95": intervals[t]}
               for t in ("micro", "macro", "overall")},
            "on_distractors": hits, "by_video_kind": by_rate}


def main(argv):
    del argv
    if not FLAGS.videos:
        print("error: give --videos=FOLDER (write_photo_videos' --out)", file=sys.stderr)
        return 2
    folder = pathlib.Path(FLAGS.videos)
    cache = pathlib.Path(FLAGS.features) if FLAGS.features else folder / "features"
    if not folder.is_dir():
        print(f"error: {folder} is not a folder (write_photo_videos' --out)", file=sys.stderr)
        return 2
    files = video_files(folder)
    if not files:
        print(f"error: no .mp4 or .avi videos in {folder}", file=sys.stderr)
        return 2
    videos, kinds, timing = {}, {}, {}
    for path in files:
        try:
            truth, distractors = truth_of(path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: {path}.truth.json: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        feats, seconds = features_of(path, cache)
        videos[path.name] = (feats, truth, distractors)
        kinds[path.name] = f"{feats.fps:g} fps {path.suffix[1:]}"
        timing[path.name] = {"frames": feats.num_frames, "seconds": round(seconds, 2),
                             "frames_per_second": round(feats.num_frames / seconds, 1)}
        print(f"{path.name}: {feats.num_frames} frames, {feats.num_frames / seconds:.1f} fps")
    windows = {v: Windows.for_fps(f.fps) for v, (f, _, _) in videos.items()}

    def spot(v, z, eyes=True, head=True):
        f = videos[v][0]
        return mdmd.spot(f.blocks, windows[v], z, f.eyes if eyes else None,
                         video_features.FLOW_SIZE, f.head if head else None)

    default = {v: spot(v, analyze.DEFAULT_Z) for v in videos}
    chosen_z, per_video = {}, {}
    for v in videos:
        # choose_z needs one Windows: the held-out video's frame rate decides which videos
        # it can be chosen on (their spans are in frames)
        w = windows[v]
        same_rate = {u: (f.blocks, truth, f.eyes, video_features.FLOW_SIZE, f.head)
                     for u, (f, truth, _) in videos.items() if u != v and windows[u] == w}
        chosen_z[v] = mdmd.choose_z(same_rate, w)[0]
        per_video[v] = spot(v, chosen_z[v])
    learned = _spotter()
    results = {
        "videos": len(videos), "truth": {t: sum(i.kind == t for _, tr, _ in videos.values()
                                                for i in tr) for t in sm.TYPES},
        "distractors": {k: sum(d[2] == k for _, _, ds in videos.values() for d in ds)
                        for k in DISTRACTORS},
        "default_z": analyze.DEFAULT_Z,
        "default": scored(videos, default, kinds),
        "per_video_z": {**scored(videos, per_video, kinds), "z": chosen_z},
        "without_eyes": scored(videos, {v: spot(v, analyze.DEFAULT_Z, eyes=False)
                                        for v in videos}, kinds),
        "without_head": scored(videos, {v: spot(v, analyze.DEFAULT_Z, head=False)
                                        for v in videos}, kinds),
        "learned": None if learned is None else scored(
            videos, {v: analyze.spot_learned(videos[v][0], learned) for v in videos}, kinds),
        "timing": timing,
        "intervals": {v: [[i.onset, i.offset, i.kind] for i in default[v]] for v in videos}}
    out = pathlib.Path(FLAGS.out)
    atomic_files.write_json(out / "results.json", results)
    atomic_files.write_text(out / "table.md", table(results))
    print(table(results))
    return 0


def _spotter():
    from faceslueth_jax.inference import model_folder
    return model_folder.restore(FLAGS.spotter) if FLAGS.spotter else None


def table(r: dict) -> str:
    def cell(s):
        lo, hi = s["f1_interval95"]
        return f"{s['f1'] or 0:.3f} [{lo:.3f}, {hi:.3f}]"
    lines = [f"Training-free spotter on {r['videos']} real-photograph videos "
             f"({r['truth']['micro']} micro-, {r['truth']['macro']} macro-expressions; "
             f"{r['distractors']['nod']} nods, {r['distractors']['turn']} turns, "
             f"{r['distractors']['blink']} blinks); MEGC counts at IoU >= 0.5 over the videos; "
             "95% intervals from a bootstrap over videos (2000 draws).", "",
             "| spotter | micro F1 | macro F1 | overall F1 | TP / FP / FN (overall) "
             "| micro on nod / turn / blink |", "|---|---|---|---|---|---|"]
    rows = [(f"baseline, default z = {r['default_z']:g}", "default"),
            ("baseline, z chosen on the other videos", "per_video_z")]
    rows += [(f"baseline, z = {r['default_z']:g}, eyes not used (every block; no blink rule)",
              "without_eyes"),
             (f"baseline, z = {r['default_z']:g}, no head rule", "without_head")]
    rows += [("learned (trained on the synthetic long videos)", "learned")] if r.get("learned") else []
    for name, key in rows:
        s = r[key]
        o, d = s["overall"], s["on_distractors"]
        lines.append(f"| {name} | {cell(s['micro'])} | {cell(s['macro'])} | {cell(o)} | "
                     f"{o['tp']} / {o['fp']} / {o['fn']} | {d['nod']['micro']} / "
                     f"{d['turn']['micro']} / {d['blink']['micro']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
