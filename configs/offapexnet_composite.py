r"""OFF-ApexNet (Gan et al. 2019) at tvaranka/meb's sizes, LOSO over the 68 subjects of
the MEGC2019 composite as HTNet released it: u and v of its 28x28 onset-apex flow.

meb reports OFF-ApexNet's honest composite UF1 0.7032 (fixed schedule) and 0.8390 with
each subject's best test epoch ("Table 3. Early stopping"). The recipe here is the one
this project uses for meb's STSTNet (configs/ststnet_composite.py: Adam(lr=5e-5,
weight_decay=1e-3) as L2, batch 32, 200 epochs, cross-entropy, no augmentation); that
it is meb's recipe for OFF-ApexNet too is not yet checked against meb's notebook.

  python run.py --config=configs/offapexnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

Measured on a 2-core CPU (jax 0.10.2): 3 epochs (--config.train.epochs=3) took 42 s of
wall time, 14.3 s of them training and testing, 0.070 s per fold-epoch: about 16 minutes
for the 200 epochs by that rate; the 200-epoch run has not been made yet.
"""

from configs.common import meb_composite


def get_config(arg: str = ""):
    del arg
    return meb_composite("offapexnet_composite", "offapexnet", 28, widths=(6, 16), hidden=1024, dropout=0.5, conv_impl="auto")
