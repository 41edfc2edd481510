r"""``python -m faceslueth_jax.analyze``: spot and recognise the expressions of a long video.

  python -m faceslueth_jax.analyze --video=interview.mp4 [--spotter=baseline|SPOTTER_FOLDER] \
      [--model=RECOGNITION_MODEL_FOLDER] [--out=DIR] [--truth=intervals.json] \
      [--crop=auto|detect|whole] [--fps=FPS] [--z=DEFAULT_Z]

The video (a file OpenCV reads, or a folder of frames) streams through the face chain
and the spotter (``faceslueth_jax.inference.analyze``); a table of the intervals is
printed (onset, apex, offset, type, score, and with ``--model`` each
micro-expression's class and probabilities), with a progress bar and the frames per
second of the whole chain on stderr. With ``--out``: ``intervals.json``,
``timeline.png``/``.pdf`` (the motion strength over time, the spotted intervals and,
with ``--truth``, the true ones, also listed in intervals.json) and with ``--model``
one attention sheet per micro-expression (``attention/<onset>-<offset>.png``, ``.pdf``,
``.npz``), written once everything succeeded, into a new folder made whole at the end
(an existing ``--out`` is refused before anything is read). ``--truth``: a JSON list
of intervals, a JSON object holding it under ``intervals`` or ``events``, or a CSV
onset,offset,kind (``spotting.truth``); with it MEGC's TP, FP, FN, precision, recall
and F1 at IoU >= 0.5 for micro, macro and overall are printed and written to
intervals.json under ``scores``. ``--fps``: 4..1000 (default: the video's own;
30 for a folder of frames). Bad input (a flag's value, the files, frames of different
sizes or under 32 px): one line ``error: ...`` naming the file or value, exit 2,
nothing written.
"""

from __future__ import annotations

import math
import pathlib
import sys

from absl import app, flags, logging

from faceslueth_jax import atomic_files, cli  # noqa: F401 - cli defines --out
from faceslueth_jax.inference import command
from faceslueth_jax.inference.command import BAD_INPUT, DEFAULT_Z

if __doc__:  # the usage line shows the flag's default
    __doc__ = __doc__.replace("--z=DEFAULT_Z", f"--z={DEFAULT_Z:g}")

FLAGS = flags.FLAGS
for _name in ("video", "model", "crop", "fps"):  # shared: faceslueth_jax.cli
    flags.declare_key_flag(_name)
flags.DEFINE_string("spotter", "baseline", "'baseline' (MDMD, training-free) or the model "
                    "folder of a spotting run (<workdir>/model)")
flags.declare_key_flag("out")
flags.DEFINE_string("truth", None, "the true intervals, scored (MEGC, IoU >= 0.5) and drawn "
                    "on the timeline: a JSON list "
                    "of {onset, offset, kind[, apex, label]}, a JSON object holding it under "
                    "'intervals' or 'events', or a CSV with the header onset,offset,kind")
flags.DEFINE_float("z", DEFAULT_Z, "the baseline's threshold: a movement stands z "
                   "noise units above the video's floor, T = median + z 1.4826 MAD of the "
                   "contrast", lower_bound=0.0)


def table(rows: list) -> str:
    head = f"{'onset':>7s} {'apex':>7s} {'offset':>7s} {'type':>6s} {'score':>7s}  class"
    lines = [head]
    for r in rows:
        cls = ""
        if "class" in r:
            cls = f"{r['class']}  (" + "  ".join(f"{n} {p:.3f}" for n, p in
                                                 r["probabilities"].items()) + ")"
        lines.append(f"{r['onset']:7d} {r['apex']:7d} {r['offset']:7d} {r['kind']:>6s} "
                     f"{r['score']:7.3f}  {cls}")
    return "\n".join(lines)


def main(argv):
    del argv
    if not FLAGS.video:
        print("error: --video is required (a video file or a folder of frames)", file=sys.stderr)
        return BAD_INPUT
    if not (math.isfinite(FLAGS.z) and FLAGS.z > 0):
        print(f"error: --z={FLAGS.z:g} is no threshold (noise units above the video's floor: "
              "a finite number above 0)", file=sys.stderr)
        return BAD_INPUT
    refused = command.out_problem(FLAGS.out)  # before anything is read
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return BAD_INPUT
    logging.set_verbosity(logging.WARNING)
    # here, not at the top: --help and a refused flag answer without loading jax
    from faceslueth_jax.inference import analyze as analysis
    from faceslueth_jax.inference import model_folder
    try:
        source = analysis.open_video(FLAGS.video, FLAGS.fps)
        truth = analysis.read_truth(FLAGS.truth) if FLAGS.truth else None
        spotter = "baseline"
        if FLAGS.spotter != "baseline":
            spotter = model_folder.restore(FLAGS.spotter)
            if spotter.meta.get("task") != "spotting":
                raise analysis.AnalyzeError(f"{FLAGS.spotter} is a recognition model folder, "
                                            "not a spotter's (a spotting run's <workdir>/model)")
        model = model_folder.restore(FLAGS.model) if FLAGS.model else None
        if model is not None and model.meta.get("task") == "spotting":
            raise analysis.AnalyzeError(f"{FLAGS.model} is a spotter's model folder; --model "
                                        "takes a recognition model folder")
        if model is not None and truth:  # the timeline names the true classes by the model's
            label = max(t.label for t in truth)
            if label >= len(model.class_names):
                raise analysis.AnalyzeError(
                    f"{FLAGS.truth}: label {label} is no class of {FLAGS.model} (its "
                    f"{len(model.class_names)} classes are 0..{len(model.class_names) - 1})")
        found = analysis.analyze(source, spotter, FLAGS.z, model, FLAGS.crop,
                                 with_pictures=bool(FLAGS.out and model),
                                 progress=analysis.Progress(source.num_frames))
    except (analysis.AnalyzeError, model_folder.ModelFolderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    rows, feats, seconds = found["intervals"], found["features"], found["seconds"]
    print(table(rows))
    if truth is not None:
        found["scores"] = analysis.truth_scores(rows, truth)
        print(analysis.scores_table(found["scores"]))
    kinds = [r["kind"] for r in rows]
    print(f"{source.path}: {feats.num_frames} frames at {source.fps:g} fps; "
          f"{kinds.count('micro')} micro, {kinds.count('macro')} macro spotted "
          f"({'baseline z=%g' % FLAGS.z if spotter == 'baseline' else FLAGS.spotter}); "
          f"{seconds['frames_per_second']} frames per second over the whole chain")
    if FLAGS.out:
        try:
            write(pathlib.Path(FLAGS.out), source, found, spotter, model, truth)
        except OSError as e:
            print(f"error: cannot write --out={FLAGS.out}: {e.strerror or e}", file=sys.stderr)
            return BAD_INPUT
    return 0


def write(out: pathlib.Path, source, found: dict, spotter, model, truth) -> None:
    """intervals.json, the timeline and the attention sheets, into a new folder ``out``
    made whole at the end (``atomic_files.new_folder``: absent or complete)."""
    from faceslueth_jax.inference import analyze as analysis
    from faceslueth_jax.inference import pictures
    from faceslueth_jax.spotting import timeline
    rows, feats = found["intervals"], found["features"]
    names = model.class_names if model is not None else ()
    with atomic_files.new_folder(out) as staging:
        for r, sheet in zip([r for r in rows if "class" in r], found["sheets"]):
            pictures.write(sheet, staging / "attention" / f"{r['onset']}-{r['offset']}.png")
        spotted = analysis.as_intervals(rows, names)
        timeline.write(staging / "timeline", f"{source.path.name}: {feats.num_frames} frames "
                       f"at {source.fps:g} fps", source.fps,
                       timeline.curves(feats.blocks, source.fps),
                       {**({"truth": truth} if truth is not None else {}), "spotted": spotted},
                       names)
        atomic_files.write_json(staging / "intervals.json", {
            "video": str(source.path), "fps": source.fps, "num_frames": feats.num_frames,
            "face_box_first_frame": list(feats.face_box),
            "spotter": "baseline" if spotter == "baseline" else str(FLAGS.spotter),
            "z": FLAGS.z if spotter == "baseline" else None,
            "model": FLAGS.model, "intervals": rows,
            "truth": None if truth is None else analysis.intervals_json(truth),
            **({"scores": found["scores"]} if "scores" in found else {}),
            "seconds": found["seconds"]})


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)),
            flags_parser=cli.parser("python -m faceslueth_jax.analyze",
                                    takes=("video", "model", "crop", "fps", "out"),
                                    needs_config=False))
