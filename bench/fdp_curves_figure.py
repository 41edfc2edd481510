r"""FDP's learning curves on the aligned synthetic variant, one line per compared run.

  python bench/fdp_curves_figure.py --comparison=bench/runs/fdp_aligned/comparison.json \
      --out=bench/figures/fdp_learning_curves.png

``--comparison``: the file ``bench/fdp_vs_linear.py`` writes; its runs (each a finished
FDP LOSO run folder with metrics.json) are drawn with the settings that tell them apart.
Left: the pooled test UF1 with every fold at epoch e (the learning-curve DIAGNOSTIC;
picking its best epoch would be the optimistic rule), mean ± std over seeds, beside the
tuned linear model on the dynamic image and on the flow (same folds, horizontal lines).
Right: the training loss (cross-entropy, plus 100 x MSE where the reconstruction term is
on). Written as PNG and PDF.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from faceslueth_jax.evaluation import curves, figure_style


def label(entry: dict) -> str:
    parts = [f"{entry['score_init']} scorer init", f"MSE x {entry['mse_weight']:g}",
             f"{entry['epochs']} epochs"]
    if entry["class_balance"]:
        parts.append("class-balanced")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--comparison", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    comparison = json.loads(pathlib.Path(args.comparison).read_text())
    fig, (left, right) = figure_style.figure(1, 2, figsize=(10.0, 3.6))
    for i, (run, entry) in enumerate(comparison["runs"].items()):
        per_seed = json.loads((pathlib.Path(run) / "metrics.json").read_text())[
            "learning_curve"]["per_seed"]
        colour = figure_style.COLOURS[i % len(figure_style.COLOURS)]
        epochs = np.arange(1, len(per_seed["uf1"][0]) + 1)
        curves.band(left, epochs, per_seed["uf1"], colour, label(entry))
        curves.band(right, epochs, per_seed["train_loss"], colour, label(entry))
    for (name, result), style in zip(comparison["linear"].items(), ("--", ":")):
        left.axhline(result["uf1"]["mean"], color=figure_style.REFERENCE, ls=style,
                     label=f"linear model on the {name}")
    left.set_ylim(0, 1)
    left.set_xlabel("epoch")
    left.set_ylabel("pooled test UF1, all folds at epoch e")
    left.set_title("test UF1 per epoch (mean ± std over seeds)")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (mean over folds)")
    right.set_title("training loss")
    left.legend(fontsize=6, loc="center", bbox_to_anchor=(0.5, 0.6))
    figure_style.save(fig, args.out)


if __name__ == "__main__":
    main()
