r"""OFF-ApexNet (Gan et al. 2019) at tvaranka/meb's sizes, LOSO over the 68 subjects of
the MEGC2019 composite as HTNet released it: u and v of its 28x28 onset-apex flow.

meb reports OFF-ApexNet's honest composite UF1 0.7032 (fixed schedule) and 0.8390 with
each subject's best test epoch ("Table 3. Early stopping"). The recipe here is the one
this project uses for meb's STSTNet (configs/ststnet_composite.py: Adam(lr=5e-5,
weight_decay=1e-3) as L2, batch 32, 200 epochs, cross-entropy, no augmentation); that
it is meb's recipe for OFF-ApexNet too is not yet checked against meb's notebook.

  python run.py --config=configs/offapexnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

14.8 minutes measured on a 2-core CPU (jax 0.10.2; 14.7 of them training; 3 epochs took
42 s). Seed 0 scored UF1 0.707 / UAR 0.700 at the last epoch (best test epoch,
OPTIMISTIC: 0.789 / 0.749), within 0.004 of meb's 0.7032 (bench/runs/offapexnet_composite_seed0).
"""

from configs.common import meb_composite


def get_config(arg: str = ""):
    del arg
    return meb_composite("offapexnet_composite", "offapexnet", 28, widths=(6, 16), hidden=1024, dropout=0.5, conv_impl="auto")
