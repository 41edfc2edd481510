"""Run in a subprocess with 8 forced host devices: train the tiny problem under
several (fold x data) placements and print each one's test logits as JSON.

Subjects of uneven sizes (padded fold tables, filled last batches) and stochastic
depth on (dropout draws per sample of the whole batch) in every placement; the 1x1
placement once more without it ("no dropout: 1x1"), to show the masks matter. The
model is the Swin stream with the head (stochastic depth, the head's BatchNorm over a
batch split across devices); the motion stream's placements: tests/test_fold_trainer.py."""

import json
import sys

import jax

from tests import tiny_problem

# name: (devices, mesh fold axis, mesh data axis, max folds per program); 7 folds, so
# every one-program placement pads its chunk of 8 with an inert fold
PLACEMENTS = {
    "1x1": (1, 1, 1, 1),
    "4x2, one program, 2 folds per group, batch split over 2": (8, 4, 2, 8),
}  # (8x1 and 2x4 are left out to keep the suite under 15 minutes: 4x2 has both folds
#    sharded over device groups and a batch split over devices)
DROP_PATH_RATE = 0.3


def main():
    views, labels, folds = tiny_problem.tiny_data(per_subject=[2, 3, 4, 3, 5, 2, 4])
    out = {"num_devices": len(jax.devices())}
    runs = [(name, DROP_PATH_RATE) for name in PLACEMENTS] + [("1x1", 0.0)]
    for name, rate in runs:
        devices, fold, data, chunk = PLACEMENTS[name]
        config = tiny_problem.appearance_only(tiny_problem.placement_config())
        # two Swin blocks (the drop rates are linspace(0, rate, blocks)) in every run
        config.model.faceslueth_r.appearance.update(depths=(2,), drop_path_rate=rate)
        trainer = tiny_problem.tiny_trainer(config, views, labels, folds, devices, fold, data)
        history = trainer.fit(folds, epochs=2, seed=0, max_folds_per_chunk=chunk)
        assert history.execution["fold_groups"] == fold, history.execution
        assert history.execution["data_parallel"] == data, history.execution
        assert history.execution["folds_per_chunk"] == chunk, history.execution  # padded
        out[name if rate else f"no dropout: {name}"] = history.test_logits.tolist()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
