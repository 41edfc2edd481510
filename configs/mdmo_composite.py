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
TIME
"""

from configs.common import base_config, handcrafted


def get_config(arg: str = ""):
    del arg
    c = handcrafted(base_config("mdmo_composite"), "mdmo")
    c.data.name = "htnet_composite"
    c.data.flow_size = 28
    c.data.face_size = 28  # faces are not read; keep their views small
    return c
