r"""RCN-A (Xia et al., IEEE TIP 2020), the parameter-free recurrent convolutional network
with class-activation attention, LOSO over the 68 subjects of the MEGC2019 composite as
HTNet released it: its onset-apex flow (u, v, strain) resized from 28x28 to 60x60.

meb's composite run of RCN-A (its 2022 notebook "RCN-A and SSSNet for megc", commit
91d33fb): 64 feature maps, pooled grid 7, one recurrent layer, torch's SGD(lr=0.01,
momentum=0.9, weight_decay=1e-3), batch 128, 200 epochs, cross-entropy, no
augmentation; UF1 0.6821. This config is that recipe (``model.name='rcn_s'`` with
``model.rcn_s`` the same fields gives RCN-S):

  python run.py --config=configs/rcn_a_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

Measured on a 2-core CPU (jax 0.10.2) while a training run shared it: one training step
of 128 flows at 60x60 took 1.55 s, 6.2 s per fold-epoch, 7 minutes per epoch of the 68
folds; the 200 epochs would take about a day on such a machine (GPU advised).
``:short`` trains the first 10 epochs (the lr is constant; 10 x 4 SGD steps a fold), as
ResNet-18's ``:short`` does: about 75 minutes a seed on 2 CPU cores (6.5 s per
fold-epoch alone, measured on the first fold of a sweep).
"""

import ml_collections

from configs.common import meb_composite

SHORT_EPOCHS = 10


def rcn_fields(variant: str) -> dict:
    return dict(variant=variant, features=64, pool_size=7, dropout=0.5, conv_impl="auto")


def get_config(arg: str = ""):
    """'' meb's recipe; 'short': its first 10 epochs (the lr is constant)."""
    if arg not in ("", "short"):
        raise ValueError(f"rcn_a_composite takes '' or 'short', got {arg!r}")
    c = meb_composite("rcn_a_composite", "rcn_a", 60, lr=0.01, optimizer="sgd",
                      batch_size=128, epochs=SHORT_EPOCHS if arg == "short" else 200,
                      **rcn_fields("a"))
    c.model.rcn_s = ml_collections.ConfigDict(rcn_fields("s"))
    return c
