"""Stage 5: what a finished run leaves to use: the model folder of its fold models
(``<workdir>/model``, for ``faceslueth_jax.predict``) and, with
``report.attention_samples`` N > 0, the attention pictures of the first N test
samples of every database and class, each drawn with the fold model that tested it."""

from __future__ import annotations

import pathlib

from absl import logging

from faceslueth_jax.inference import model_folder, pictures
from faceslueth_jax.pipeline import results


def write(config, workdir: pathlib.Path, fitted) -> None:
    history = fitted.history
    if history.final is None:  # model_folder=False: no final variables were kept
        return
    folder = model_folder.write(workdir / "model", config, fitted.data, fitted.sweep.folds,
                                history, fitted.sweep.seeds)
    logging.info("model folder: %s (python -m faceslueth_jax.predict --model=%s --clip=...)",
                 folder, folder)
    per_class = config.get("report", {}).get("attention_samples", 0)
    if per_class and config.protocol.name != "all":
        data, folds, _ = results.scored_part(fitted)
        count = pictures.write_run_pictures(workdir / "attention", model_folder.restore(folder),
                                            data, folds, per_class)
        logging.info("attention pictures of %d test samples in %s", count,
                     workdir / "attention")
