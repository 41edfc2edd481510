r"""OFF-ApexNet (Gan et al. 2019) at tvaranka/meb's sizes, LOSO over the 68 subjects of
the MEGC2019 composite as HTNet released it: u and v of its 28x28 onset-apex flow.

meb (its notebook "Table 3. Early stopping", commit f731b0a) trains OFF-ApexNet on its
own loader's flow with torch's Adam(lr=1e-4, weight_decay=1e-3) (L2 in the gradient),
batch 32, 3000 epochs, cross-entropy, no augmentation, and reports UF1 0.7032 for the
fixed schedule and 0.8390 with each subject's best test epoch. This config is that
recipe:

  python run.py --config=configs/offapexnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

about 4 hours a seed on a 2-core CPU (0.070 s per fold-epoch, measured over 200
epochs). The measured runs are a shortened schedule, 200 epochs at lr 5e-5
(``configs/offapexnet_composite.py:short``): 14.8 minutes a seed on 2 cores; seed 0 scored
UF1 0.707 / UAR 0.700 at the last epoch (best test epoch, OPTIMISTIC: 0.789 / 0.749),
within 0.004 of meb's 0.7032 (bench/runs/offapexnet_composite_seed0).
"""

from configs.common import meb_composite


def get_config(arg: str = ""):
    """'' meb's recipe; 'short': 200 epochs at lr 5e-5 (STSTNet's lr)."""
    if arg not in ("", "short"):
        raise ValueError(f"offapexnet_composite takes '' or 'short', got {arg!r}")
    if arg == "short":
        return meb_composite("offapexnet_composite", "offapexnet", 28, lr=5e-5, epochs=200,
                             widths=(6, 16), hidden=1024, dropout=0.5, conv_impl="auto")
    return meb_composite("offapexnet_composite", "offapexnet", 28, lr=1e-4, epochs=3000,
                         widths=(6, 16), hidden=1024, dropout=0.5, conv_impl="auto")
