r"""SSSNet, tvaranka/meb's shallow single-stream network, LOSO over the 68 subjects of
the MEGC2019 composite as HTNet released it: its onset-apex flow (u, v, strain)
resized from 28x28 to the network's 64x64.

meb publishes SSSNet as a baseline of its toolkit; its composite figure is not yet read
from its notebooks. The recipe here is the one
this project uses for meb's STSTNet (configs/ststnet_composite.py: Adam(lr=5e-5,
weight_decay=1e-3) as L2, batch 32, 200 epochs, cross-entropy, no augmentation); that
it is meb's recipe for SSSNet too is not yet checked against meb's notebook.

  python run.py --config=configs/sssnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

Measured on a 2-core CPU (jax 0.10.2): 3 epochs (--config.train.epochs=3) took 197 s of
wall time, 164 s of them training and testing, 0.80 s per fold-epoch: about 3 hours for
the 200 epochs by that rate; the 200-epoch run has not been made yet.
"""

from configs.common import meb_composite


def get_config(arg: str = ""):
    del arg
    return meb_composite("sssnet_composite", "sssnet", 64, widths=(32, 64), hidden=256, dropout=0.5, conv_impl="auto")
