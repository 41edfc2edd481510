r"""MDMO (Liu et al., IEEE TAC 2016), LOSO over the 68 subjects of the MEGC2019 composite
as HTNet released it: the main directional mean flow of a 6 x 6 grid of regions of the
28x28 onset-apex flow (the release keeps no landmarks), read by a class-balanced
logistic regression whose L2 an inner CV over each fold's training subjects chooses
(the run's baseline line; no training loop), and by one dense layer trained like the
other models (the run's headline, so the run leaves a model folder for ``predict``).

  python run.py --config=configs/mdmo_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

HTNet's release stores each flow channel min-max normalised on its own, so the angles
MDMO reads are those of the rescaled u and v, not of the true flow.

10.4 minutes on a 2-core CPU that test runs shared (jax 0.10.2; the dense layer's 100
epochs over 68 folds). Seed 0: the logistic regression on MDMO, UF1 0.719 [0.639, 0.795]
/ UAR 0.750; the dense layer, last epoch, 0.703 / 0.695 (best test epoch, OPTIMISTIC:
0.802). meb's MDMO with an SVM on its own flow and landmarks: UF1 0.5854.
"""

from configs.common import base_config, handcrafted


def get_config(arg: str = ""):
    del arg
    c = handcrafted(base_config("mdmo_composite"), "mdmo")
    c.data.name = "htnet_composite"
    c.data.flow_size = 28
    c.data.face_size = 28  # faces are not read; keep their views small
    return c
