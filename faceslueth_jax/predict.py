r"""``python -m faceslueth_jax.predict``: classify clips with a trained model folder.

  python -m faceslueth_jax.predict --model=runs/all/model --clip=clip_frames/ \
      [--clip=clip.avi ...] [--onset=0 --apex=4] [--crop=auto|detect|whole] [--out=DIR]

See ``faceslueth_jax.inference.predict`` (what is done to each clip) and README
("Use a trained model"). Bad input: one line naming the file on stderr, exit 2,
nothing written to ``--out``.
"""

from __future__ import annotations

import pathlib
import sys
import time

from absl import app, flags, logging

from faceslueth_jax import atomic_files
from faceslueth_jax.inference import clip_input, model_folder, pictures
from faceslueth_jax.inference.predict import BAD_INPUT, PredictError, picture_names, predict

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "model folder (<workdir>/model of a run)")
flags.DEFINE_multi_string("clip", [], "a folder of frames, a video, or a folder of clips")
flags.DEFINE_integer("onset", None, "onset frame index (from 0); default 0")
flags.DEFINE_integer("apex", None, "apex frame index; default: spotted as the builders do")
flags.DEFINE_enum("crop", "auto", clip_input.CROPS,
                  "face crop: 'auto' as the model's training data, 'detect' a face box "
                  "found on the onset frame, 'whole' the frames are face crops already")
flags.DEFINE_string("out", None, "folder for predictions.json and the pictures")
flags.DEFINE_integer("batch_size", 32, "clips per model call")


def main(argv):
    del argv
    if not FLAGS.model or not FLAGS.clip:
        print("error: --model and at least one --clip are required", file=sys.stderr)
        return BAD_INPUT
    logging.set_verbosity(logging.WARNING)  # the results only, no absl INFO lines
    started = time.time()
    try:
        model = model_folder.restore(FLAGS.model)
        loaded = time.time()
        results, images = predict(model, FLAGS.clip, FLAGS.onset, FLAGS.apex, FLAGS.crop,
                                  FLAGS.batch_size, with_pictures=FLAGS.out is not None)
    except (model_folder.ModelFolderError, clip_input.ClipInputError, PredictError) as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    for r in results:
        probs = "  ".join(f"{n} {p:.3f}" for n, p in r["probabilities"].items())
        print(f"{r['clip']}: {r['predicted']}  ({probs})  onset {r['onset']}, apex {r['apex']}"
              f"{' (spotted)' if r['apex_spotted'] else ''}")
    seconds = {"restore": round(loaded - started, 2), "predict": round(time.time() - loaded, 2)}
    print(f"{len(results)} clip(s) with {model.meta['model']} ({model.num_members} member(s)): "
          f"restore {seconds['restore']} s, predict {seconds['predict']} s")
    if FLAGS.out:
        out = pathlib.Path(FLAGS.out)
        out.mkdir(parents=True, exist_ok=True)
        names = picture_names(results)
        for name, image in zip(names, images):
            atomic_files.write_bytes(out / name, pictures.png_bytes(image))
        atomic_files.write_json(out / "predictions.json", {
            "model": str(FLAGS.model), "model_name": model.meta["model"],
            "members": model.num_members, "ensemble": model.meta["ensemble"],
            "chain_note": model.meta["chain"]["record"].get("note", ""),
            "clips": [dict(r, picture=n) for r, n in zip(results, names)],
            "seconds": seconds})
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
