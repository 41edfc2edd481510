"""A spotting run from a config, top to bottom: the long videos (built on first use),
each spotter under LOSO over the videos' subjects, the MEGC metric with intervals, the
files. ``run.py`` runs it for configs with ``task='spotting'``.

Spotters (``config.spotters``):
  mdmd     training-free (``mdmd``): for test subject s, its threshold z is chosen on
           the videos of every other subject (``mdmd.choose_z``), then s's videos are
           spotted; or z fixed for every fold (``mdmd.z`` > 0);
  learned  ``learned``: SpotNet trained for every LOSO fold at once by the fold-parallel
           trainer (last epoch), fold f's model spotting subject f's videos.
Neither sees a test subject's labels before its intervals are fixed.

<workdir>/
  metrics.json      per spotter: micro, macro and overall precision, recall, F1 and the
                    counts over the database, with 95% intervals of the F1s from a
                    bootstrap over subjects; mdmd's z per fold; the data and how it ran
  per_subject.csv   spotter, subject, kind, TP, FP, FN, F1
  intervals.json    per spotter and video: the spotted intervals and the true ones
  curves.csv        the learned spotter's mean training loss per fold and epoch
  timelines/<video>.png|.pdf   the first ``report.timelines`` videos (``timeline``)
  model/            the learned spotter's fold models (a model folder, task 'spotting'),
                    which ``faceslueth_jax.analyze --spotter`` reads
"""

from __future__ import annotations

import json
import pathlib
import time

import numpy as np
from absl import logging

from faceslueth_jax import atomic_files, model_files
from faceslueth_jax.evaluation import spotting_metrics
from faceslueth_jax.preprocess.video_features import Windows
from faceslueth_jax.spotting import learned, mdmd, timeline, videos as video_data

SPOTTERS = ("mdmd", "learned")
SELECTION = ("honest: mdmd's z chosen on the training subjects of each fold; the learned "
             "spotter's last epoch, its intervals by a fixed rule")


def mdmd_loso(config, videos: list) -> tuple[dict, dict]:
    """({video key: spotted intervals}, {subject: (z, its training F1)})."""
    spotted, chosen = {}, {}
    for subject in sorted({v.subject for v in videos}):
        train = [v for v in videos if v.subject != subject]
        windows = Windows.for_fps(train[0].fps)
        if config.mdmd.z > 0:
            z, f1 = float(config.mdmd.z), None
        else:
            z, f1 = mdmd.choose_z({v.key: (v.blocks, v.truth, v.eyes, v.flow_size, v.head)
                                   for v in train}, windows)
        chosen[subject] = (z, f1)
        for v in videos:
            if v.subject == subject:
                spotted[v.key] = mdmd.spot(v.blocks, windows, z, v.eyes, v.flow_size, v.head)
    return spotted, chosen


def learned_loso(config, videos: list, final_dir=None):
    """({video key: spotted intervals} of the seeds' ensemble (probabilities averaged),
    the trainer's History, the Samples, the instances, the seeds, [{video key: spotted
    intervals}] of each seed alone)."""
    from faceslueth_jax.models import registry
    from faceslueth_jax.train import fold_trainer, placement, protocols

    cfg = config.learned
    data = learned.samples(videos, tuple(cfg.spans), cfg.window)
    subjects = np.array([videos[i].subject for i in data.video])
    datasets = np.array([videos[i].dataset for i in data.video])
    folds = protocols.loso(datasets, subjects)
    seeds = tuple(config.seed + s for s in range(config.protocol.get("seeds", 1)))
    instances = protocols.tile(folds, len(seeds))
    mesh = placement.make_mesh(instances.num_folds, config.train.batch_size, **config.mesh)
    trainer = fold_trainer.FoldTrainer(
        registry.from_config(config.model, len(learned.CLASSES)), config.train,
        {"window": data.windows}, data.labels, mesh, u_mirror_offset=0.0, final_dir=final_dir)
    plan = trainer.plan(instances, config.max_folds_per_chunk, config.device_memory_bytes)

    def on_epoch(chunk, chunks, epoch, epochs, record):
        logging.info("learned spotter: chunk %d/%d epoch %d/%d loss %s", chunk + 1, chunks,
                     epoch + 1, epochs, np.round(np.asarray(record["loss"]), 4).tolist())

    history = trainer.fit(instances, config.train.epochs, seeds, plan=plan, on_epoch=on_epoch)
    probs = np.zeros((len(seeds), len(data.labels), len(learned.CLASSES)))
    for m in range(instances.num_folds):  # instance m: seed m // F's fold m % F
        n = instances.num_test[m]
        logits = history.test_logits[m, -1, :n]
        e = np.exp(logits - logits.max(-1, keepdims=True))
        probs[m // folds.num_folds, instances.test_idx[m, :n]] = e / e.sum(-1, keepdims=True)

    def spot(p):
        return {v.key: learned.intervals(p[data.video == i], data.position[data.video == i],
                                         v.fps, v.num_frames) for i, v in enumerate(videos)}
    return (spot(probs.mean(0)), history, data, instances, seeds,
            [spot(p) for p in probs] if len(seeds) > 1 else [])


def scores_of(spotted: dict, videos: list, draws: int, seed: int) -> tuple[dict, list]:
    """(the database's scores with intervals, per-subject rows) of one spotter."""
    by_key = {v.key: (spotted[v.key], v.truth) for v in videos}
    scores = spotting_metrics.spotting_scores(by_key)
    subjects, counts = spotting_metrics.subject_counts(by_key, {v.key: v.subject for v in videos})
    intervals = spotting_metrics.bootstrap_f1(counts, draws=draws, seed=seed)
    out = {kind: dict(scores[kind], f1_interval95=intervals[kind])
           for kind in ("micro", "macro", "overall")}
    rows = []
    for s, c in zip(subjects, counts):
        for t, kind in enumerate(spotting_metrics.TYPES):
            tp, fp, fn = (int(x) for x in c[t])
            f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else ""
            rows.append([s, kind, tp, fp, fn, f1 if f1 == "" else round(f1, 4)])
    return out, rows


def _intervals_json(it) -> dict:
    return {"onset": it.onset, "offset": it.offset, "kind": it.kind,
            **({"apex": it.apex} if it.apex >= 0 else {}),
            **({"label": it.label} if it.label >= 0 else {}),
            **({"score": round(it.score, 4)} if it.score else {})}


def check_config(config) -> None:
    """ValueError naming the field of a spotting config that cannot run."""
    from tfds_builders.registry import LONG_VIDEO_BUILDERS

    unknown = [s for s in config.spotters if s not in SPOTTERS]
    if unknown or not config.spotters:
        raise ValueError(f"spotters must be among {SPOTTERS}, got {tuple(config.spotters)}")
    if config.data.name not in LONG_VIDEO_BUILDERS:
        raise ValueError(f"data.name must be one of {tuple(LONG_VIDEO_BUILDERS)} (long "
                         f"videos), got {config.data.name!r}")
    spans = ("micro", "macro")
    if not (config.mdmd.z == -1 or config.mdmd.z > 0):
        raise ValueError(f"mdmd.z must be above 0 (-1: chosen per fold), got {config.mdmd.z}")
    bad = [s for s in config.learned.spans if s not in spans] or not config.learned.spans
    if bad:
        raise ValueError(f"learned.spans must be among {spans}, got {tuple(config.learned.spans)}")
    if not (isinstance(config.learned.window, int) and config.learned.window >= 1):
        raise ValueError(f"learned.window must be an integer >= 1, got {config.learned.window!r}")
    if config.protocol.name != "loso":
        raise ValueError(f"spotting runs protocol.name='loso', got {config.protocol.name!r}")
    if not (isinstance(config.train.epochs, int) and config.train.epochs >= 1):
        raise ValueError(f"train.epochs must be an integer >= 1, got {config.train.epochs!r}")


def spot_and_evaluate(config, workdir) -> dict:
    """Runs the config's spotters under LOSO; returns metrics.json's content."""
    check_config(config)
    started = time.time()
    videos, class_names, builder = video_data.load(config.data)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(workdir / "config.json", config.to_json_best_effort(indent=2) + "\n")
    spotted, extra, seconds = {}, {}, {}
    if "mdmd" in config.spotters:
        t = time.time()
        spotted["mdmd"], chosen = mdmd_loso(config, videos)
        extra["mdmd"] = {"z_per_fold": {s: z for s, (z, _) in chosen.items()},
                         "training_f1_per_fold": {s: None if f is None else round(f, 4)
                                                  for s, (_, f) in chosen.items()},
                         "spans_frames": dict(zip(("micro", "macro"),
                                                  Windows.for_fps(videos[0].fps).spans))}
        seconds["mdmd"] = time.time() - t
    if "learned" in config.spotters:
        t = time.time()
        final_dir = workdir / "final_variables" if config.model_folder else None
        spotted["learned"], history, data, instances, seeds, per_seed = learned_loso(
            config, videos, final_dir)
        seconds["learned"] = time.time() - t
        extra["learned"] = {"samples": int(len(data.labels)), "epochs": config.train.epochs,
                            "seeds": list(seeds), "window": config.learned.window,
                            "spans": list(config.learned.spans),
                            "samples_per_class": np.bincount(data.labels, minlength=3).tolist()}
        if per_seed:  # the seeds alone (the scores above are their ensemble's)
            alone = [spotting_metrics.spotting_scores({v.key: (s[v.key], v.truth) for v in videos})
                     for s in per_seed]
            extra["learned"]["per_seed"] = {
                kind: {"f1": [a[kind]["f1"] for a in alone],
                       "mean": float(np.mean([a[kind]["f1"] for a in alone])),
                       "std": float(np.std([a[kind]["f1"] for a in alone], ddof=1))}
                for kind in ("micro", "macro", "overall")}
        atomic_files.write_csv(workdir / "curves.csv", ["instance", "fold", "epoch", "loss"], [
            [m, instances.names[m], e + 1, float(history.loss[m, e])]
            for m in range(instances.num_folds) for e in range(history.loss.shape[1])])
        if config.model_folder:
            write_spotter_folder(workdir / "model", config, instances, seeds, history, data)
    summary = {"task": "spotting", "selection": SELECTION,
               "data": {"name": config.data.name, "videos": len(videos),
                        "subjects": len({v.subject for v in videos}),
                        "frames": int(sum(v.num_frames for v in videos)),
                        "fps": sorted({v.fps for v in videos}),
                        "true_micro": sum(e.kind == "micro" for v in videos for e in v.truth),
                        "true_macro": sum(e.kind == "macro" for v in videos for e in v.truth),
                        "class_names": list(class_names)},
               "bootstrap": {"unit": "subject", "draws": config.bootstrap_draws,
                             "level": 0.95},
               "spotters": {}, "seconds": {}}
    rows = []
    for name, found in spotted.items():
        scores, subject_rows = scores_of(found, videos, config.bootstrap_draws, config.seed)
        summary["spotters"][name] = dict(scores, **extra.get(name, {}))
        summary["seconds"][name] = round(seconds[name], 1)
        rows += [[name] + r for r in subject_rows]
    summary["seconds"]["total"] = round(time.time() - started, 1)
    atomic_files.write_csv(workdir / "per_subject.csv",
                           ["spotter", "subject", "kind", "tp", "fp", "fn", "f1"], rows)
    atomic_files.write_json(workdir / "intervals.json", {
        v.key: {"fps": v.fps, "truth": [_intervals_json(e) for e in v.truth],
                **{name: [_intervals_json(i) for i in found[v.key]]
                   for name, found in spotted.items()}} for v in videos})
    for v in videos[:config.report.timelines]:
        timeline.write(workdir / "timelines" / v.key.replace("/", "_"),
                       f"{v.key}: {v.num_frames} frames at {v.fps:g} fps", v.fps,
                       timeline.curves(v.blocks, v.fps),
                       {"truth": v.truth, **{n: spotted[n][v.key] for n in spotted}},
                       class_names)
    atomic_files.write_json(workdir / "metrics.json", summary)
    return summary


def write_spotter_folder(directory, config, instances, seeds, history, data) -> pathlib.Path:
    """The learned spotter's fold models as a model folder (the format of
    ``model_files``, read by ``inference.model_folder``; ``task`` 'spotting' and the
    inputs' rule under ``spotter``)."""
    from faceslueth_jax.models import registry
    from faceslueth_jax.version import __version__

    members = [{"fold": name, "seed": int(seed)} for seed in seeds for name in
               instances.names[:instances.num_folds // len(seeds)]]
    meta = {"format": model_files.FORMAT, "format_version": model_files.FORMAT_VERSION,
            "package_version": __version__, "task": "spotting", "kind": "fold_ensemble",
            "ensemble": f"the {len(members)} fold models of a LOSO spotting run; "
                        "probabilities averaged",
            "members": members, "model": registry.title(config.model),
            "class_names": list(learned.CLASSES),
            "input_shapes": {"window": list(data.windows.shape[1:])},
            "spotter": {"window": config.learned.window, "spans": list(config.learned.spans),
                        "rule": "preprocess.video_features + spotting.learned"},
            "training_data": {"name": config.data.name, "num_samples": int(len(data.labels))},
            "au_dim": 0, "config": json.loads(config.to_json_best_effort())}
    return model_files.write_folder(directory, meta, [history.final.path(m)
                                                     for m in range(len(members))])


def summary_text(summary: dict, workdir) -> str:
    """The run's table: each spotter's F1 (95% interval) for micro, macro, overall."""
    d = summary["data"]
    lines = [f"{d['name']}: {d['videos']} videos, {d['subjects']} subjects, {d['frames']} "
             f"frames, {d['true_micro']} micro / {d['true_macro']} macro coded; LOSO, "
             f"{summary['selection']}", f"{'spotter':10s} {'micro F1':>22s} {'macro F1':>22s} "
             f"{'overall F1':>22s}"]
    for name, s in summary["spotters"].items():
        cells = [f"{s[k]['f1'] or 0:.3f} [{s[k]['f1_interval95'][0]:.3f}, "
                 f"{s[k]['f1_interval95'][1]:.3f}]" for k in ("micro", "macro", "overall")]
        lines.append(f"{name:10s} " + " ".join(f"{c:>22s}" for c in cells))
    lines.append(f"(95% intervals: bootstrap over subjects; files in {workdir})")
    return "\n".join(lines)
