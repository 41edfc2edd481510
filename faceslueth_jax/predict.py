r"""``python -m faceslueth_jax.predict``: classify clips with a trained model folder.

  python -m faceslueth_jax.predict --model=runs/all/model --clip=clip_frames/ \
      [--clip=clip.avi ...] [--onset=0 --apex=4] [--clips_csv=clips.csv] \
      [--crop=auto|detect|whole] [--out=DIR] [--on_error=skip|raise] [--max_frames=1000]

See ``faceslueth_jax.inference.predict`` (what is done to each clip) and README
("Use a trained model"). ``--clips_csv``: a CSV ``clip,onset,apex`` giving each clip
its annotated onset and apex. A clip that cannot be used is listed at the end
(``--on_error=skip``, the default) and the others are still classified and written;
the exit status is then 1. Input that stops everything (the model folder, the CSV,
no usable clip, or ``--on_error=raise`` and a bad clip) or a bad flag value (e.g.
``--batch_size=0``): one line naming the file or value on stderr, exit 2, nothing
written to ``--out``. ``--out`` names a new folder, made whole at the end; an existing
one is refused before the model is read (never written into).
"""

from __future__ import annotations

import pathlib
import sys
import time

from absl import app, flags, logging

from faceslueth_jax import atomic_files, cli  # noqa: F401 - cli defines --out
from faceslueth_jax.inference import command
from faceslueth_jax.inference.command import BAD_INPUT, MAX_FRAMES, ON_ERROR

FLAGS = flags.FLAGS
flags.declare_key_flag("model")
flags.DEFINE_multi_string("clip", [], "a folder of frames, a video, or a folder of clips")
flags.DEFINE_integer("onset", None, "onset frame index (from 0); default 0")
flags.DEFINE_integer("apex", None, "apex frame index; default: spotted as the builders do")
flags.declare_key_flag("crop")
flags.declare_key_flag("out")  # the folder for predictions.json and the pictures
flags.DEFINE_integer("batch_size", 32, "clips per model call", lower_bound=1)
flags.DEFINE_string("clips_csv", None, "a CSV with the header clip,onset,apex: one clip per "
                    "row with its annotated onset and apex frame indices (blank: spotted); "
                    "relative paths are taken from the CSV's folder")
flags.DEFINE_enum("on_error", "skip", ON_ERROR, "a clip that cannot be used: skip = list it at "
                  "the end, classify the others, exit 1; raise = stop at it, exit 2")
flags.DEFINE_integer("max_frames", MAX_FRAMES,
                     "the most frames a clip may have (every frame is decoded into memory)",
                     lower_bound=2)
FAILED_CLIPS = 1  # exit status when some clips could not be used


def main(argv):
    del argv
    if not FLAGS.model or not (FLAGS.clip or FLAGS.clips_csv):
        print("error: --model and at least one --clip (or --clips_csv) are required",
              file=sys.stderr)
        return BAD_INPUT
    refused = command.out_problem(FLAGS.out)  # before the model or any clip is read
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return BAD_INPUT
    logging.set_verbosity(logging.WARNING)  # the results only, no absl INFO lines
    # here, not at the top: --help and a refused flag answer without loading jax
    from faceslueth_jax.inference import clip_input, model_folder, pictures
    from faceslueth_jax.inference.predict import PredictError, picture_names, predict
    started = time.time()
    try:
        model = model_folder.restore(FLAGS.model)
        clips = list(FLAGS.clip) + (clip_input.read_clips_csv(FLAGS.clips_csv)
                                    if FLAGS.clips_csv else [])
        note = model.meta["chain"]["record"].get("note", "")
        if note:
            print(f"note: {model.meta['model']}: {note}", file=sys.stderr)
        loaded = time.time()
        results, sheets = predict(model, clips, FLAGS.onset, FLAGS.apex, FLAGS.crop,
                                  FLAGS.batch_size, with_pictures=FLAGS.out is not None,
                                  on_error=FLAGS.on_error, max_frames=FLAGS.max_frames)
    except (model_folder.ModelFolderError, clip_input.ClipInputError, PredictError) as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    classified = [r for r in results if "error" not in r]
    failed = [r for r in results if "error" in r]
    for r in classified:
        probs = "  ".join(f"{n} {p:.3f}" for n, p in r["probabilities"].items())
        print(f"{r['clip']}: {r['predicted']}  ({probs})  onset {r['onset']}, apex {r['apex']}"
              f"{' (spotted)' if r['apex_spotted'] else ''}")
        if "warning" in r:
            print(f"warning: {r['clip']}: {r['warning']}", file=sys.stderr)
    seconds = {"restore": round(loaded - started, 2), "predict": round(time.time() - loaded, 2)}
    print(f"{len(classified)} clip(s) with {model.meta['model']} ({model.num_members} "
          f"member(s)): restore {seconds['restore']} s, predict {seconds['predict']} s")
    if FLAGS.out and classified:
        names = picture_names(results)
        try:
            with atomic_files.new_folder(pathlib.Path(FLAGS.out)) as out:  # whole at the end
                for name, sheet in zip(names, sheets):
                    pictures.write(sheet, out / name)
                atomic_files.write_json(out / "predictions.json", {
                    "model": str(FLAGS.model), "model_name": model.meta["model"],
                    "members": model.num_members, "ensemble": model.meta["ensemble"],
                    "chain_note": note,
                    "clips": [dict(r, picture=n) for r, n in zip(classified, names)],
                    "failed": failed, "seconds": seconds})
        except OSError as e:
            print(f"error: cannot write --out={FLAGS.out}: {e.strerror or e}", file=sys.stderr)
            return BAD_INPUT
    if len(failed) == 1 and not classified:
        print(f"error: {failed[0]['error']}", file=sys.stderr)
    elif failed:
        print(f"error: {len(failed)} of {len(results)} clip(s) could not be used:",
              file=sys.stderr)
        for r in failed:
            print(f"  {r['error']}", file=sys.stderr)
    if failed:
        return FAILED_CLIPS if classified else BAD_INPUT
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)),
            flags_parser=cli.parser("python -m faceslueth_jax.predict",
                                    takes=("model", "crop", "out"), needs_config=False))
