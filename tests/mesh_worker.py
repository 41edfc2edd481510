"""Run in a subprocess with 8 forced host devices: train the tiny problem under
several placements and print each one's test logits as JSON."""

import json
import sys

import jax

from faceslueth_jax.train import fold_trainer
from tests import tiny_problem


def main():
    config = tiny_problem.placement_config()
    views, labels, folds = tiny_problem.tiny_data(num_subjects=8, per_subject=3)
    out = {"num_devices": len(jax.devices())}
    for name, devices, chunk in [("1x1", 1, 1),
                                 ("8 devices, one program, 1 fold per device", 8, 8),
                                 ("4 devices, one program, 2 folds per device", 4, 8)]:
        trainer = fold_trainer.FoldTrainer(tiny_problem.tiny_model(config), config.train,
                                           views, labels, fold_trainer.make_mesh(devices))
        history = trainer.fit(folds, epochs=2, seed=0, folds_per_chunk=chunk)
        out[name] = history.test_logits.tolist()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
