r"""FDP (arXiv 2509.06015), LOSO on the built-in synthetic micro-expression data.

8 synthetic subjects (12 clips each, 3 classes), 8 frames per clip uniform over
onset..offset, 64x64 grey frames normalised to -1..1, the compact FDP (local-
global transformer per frame, rank scorer and temporal pooling, MER head, and
the dynamic-image decoder trained with 100 x MSE), 10 epochs, batch 32, Adam
lr 1e-3 (the reference's 1e-4 learns too little in 30 steps), honest last-epoch
selection.

  python run.py --config=configs/fdp_synthetic.py

9.6 min measured on a 2-core CPU that two other training runs shared (building the
data with its frames included). The paper-size network: --config=configs/fdp_synthetic.py:paper
(GPU advised). Measured: UF1 0.273 / UAR 0.321 at the last epoch (best test epoch,
OPTIMISTIC: 0.398 / 0.415; logistic regression on flow: 0.708 / 0.719): in 30 steps
on 97 clips FDP learns little; this config shows that it runs, not how well it can do.
At 40 epochs (--config.train.epochs=40, 20.6 min on 2 cores shared with another run) it
still scores UF1 0.335 / UAR 0.350 at the last epoch, chance level all along (docs/results.md).
"""

from configs.fdp_recipe import fdp_config


def get_config(arg: str = "compact"):
    c = fdp_config("fdp_synthetic", "synthetic_me", preset=arg or "compact")
    c.data.synthetic.num_subjects = 8
    c.train.epochs = 10
    c.train.batch_size = 32
    c.train.optimizer.update(lr=1e-3, theta_lr=1e-3)
    return c
