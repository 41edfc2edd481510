r"""FDP's decoded dynamic images next to their targets, on held-out clips.

  python bench/fdp_decoder_figure.py --model=runs/fdp_aligned/model \
      --out=bench/figures/fdp_decoded.png

``--model``: the model folder of an FDP LOSO run (configs/fdp_aligned.py); its members
are the fold models. For the first ``--per_class`` clips of each class, the member of
the fold that tested the clip (seed 0's) decodes its dynamic representation (in eval
mode, ``FDP(decode_at_eval=True)``), beside the target the training loss compares it
with: the clip's approximate-rank-pooled dynamic image, min-max normalised to 0..1
(``models.dynamic_image``); it also prints the MSE of the plainest decoder, the mean
target of the fold's training clips. Columns: the first frame, the last frame, the target, the
decoded image, |decoded - target|; the rows say the class, the fold and the per-pixel MSE.
Written as PNG and PDF (``figure_style``) and the arrays as .npz beside them.
"""

from __future__ import annotations

import argparse
import io
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import figure_style
from faceslueth_jax.inference import model_folder
from faceslueth_jax.models.dynamic_image import dynamic_image
from faceslueth_jax.train import protocols


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--per_class", type=int, default=2)
    args = parser.parse_args()
    trained = model_folder.restore(args.model)
    config = trained.config
    data = model_inputs.prepared_data(config, records.read_builder(sources.prepare(config.data)))
    module = trained.module.clone(decode_at_eval=True)
    fold_of = {m["fold"]: i for i, m in enumerate(trained.meta["members"])
               if m["seed"] == config.seed}
    targets = np.asarray(dynamic_image(jnp.asarray(data.views["frames"])))
    keys = protocols.subject_keys(data.dataset, data.subject)
    rows, mean_image_mse = [], []
    for c, name in enumerate(data.class_names):
        for n in np.flatnonzero(data.label == c)[:args.per_class]:
            fold = keys[n]
            member = fold_of[fold]
            variables = jax.tree.map(lambda a, m=member: jnp.asarray(a[m]), trained.variables)
            frames = jnp.asarray(data.views["frames"][n:n + 1])
            logits, state = module.apply(variables, {"frames": frames}, train=False,
                                         mutable=["intermediates"])
            decoded = np.asarray(state["intermediates"]["decoded"][0])[0, ..., 0]
            target = targets[n, ..., 0]
            mean_image = targets[keys != fold].mean(axis=0)[..., 0]
            mean_image_mse.append(float(np.mean((mean_image - target) ** 2)))
            predicted = data.class_names[int(np.argmax(logits[0]))]
            rows.append((name, predicted, fold, np.asarray(frames[0, 0, ..., 0]),
                         np.asarray(frames[0, -1, ..., 0]), target, decoded))
    fig, axes = figure_style.figure(len(rows), 5, figsize=(7.5, 1.6 * len(rows)))
    titles = ("first frame", "last frame", "target: dynamic image", "decoded", "|decoded - target|")
    for r, (name, predicted, fold, first, last, target, decoded) in enumerate(rows):
        images = (first, last, target, decoded, np.abs(decoded - target))
        for c, (ax, image) in enumerate(zip(axes[r], images)):
            ax.imshow(image, cmap="gray" if c < 2 else figure_style.MAGNITUDE,
                      vmin=(-1 if c < 2 else 0), vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=7)
        mse = float(np.mean((decoded - target) ** 2))
        axes[r][0].set_ylabel(f"{name}\n(fold {fold.split('/')[-1]})", fontsize=7)
        axes[r][3].set_xlabel(f"MSE {mse:.4f}; predicted {predicted}", fontsize=6)
    out = pathlib.Path(args.out)
    figure_style.save(fig, out)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, target=np.stack([r[5] for r in rows]),
                        decoded=np.stack([r[6] for r in rows]),
                        classes=np.array([r[0] for r in rows]))
    atomic_files.write_bytes(out.with_suffix(".npz"), buffer.getvalue())
    print(f"{len(rows)} clips: {out} (.pdf, .npz); mean MSE "
          f"{np.mean([np.mean((r[6] - r[5]) ** 2) for r in rows]):.4f}, against "
          f"{np.mean(mean_image_mse):.4f} for the mean target of the fold's training clips")


if __name__ == "__main__":
    main()
