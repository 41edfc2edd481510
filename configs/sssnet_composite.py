r"""SSSNet, tvaranka/meb's shallow single-stream network, LOSO over the 68 subjects of
the MEGC2019 composite as HTNet released it: its onset-apex flow (u, v, strain)
resized from 28x28 to the network's 64x64.

meb (its notebook "Figure 2. Different F1-metrics", commit f731b0a) trains SSSNet with
torch's Adam(lr=1e-4, weight_decay=1e-3) (L2 in the gradient), batch 32, 200 epochs,
cross-entropy on the network's softmax output (``SSSNet(softmax=True)``; here
``model.sssnet.softmax_output``), no augmentation, and reports UF1 0.7394 at the last
epoch. This config is that recipe:

  python run.py --config=configs/sssnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

Measured on a 2-core CPU (jax 0.10.2): 3 epochs (--config.train.epochs=3) took 197 s of
wall time, 164 s of them training and testing, 0.80 s per fold-epoch: about 3 hours a
seed for the 200 epochs. ``:short`` stops after 30 epochs: its 3 seeds in one sweep
(--config.protocol.seeds=3) took 125.9 min on the 2 cores, shared at times with other
work (honest UF1 0.727 ± 0.011, docs/results.md).
"""

from configs.common import meb_composite

SHORT_EPOCHS = 30


def get_config(arg: str = ""):
    """'' meb's recipe; 'short': its first 30 epochs (the lr is constant)."""
    if arg not in ("", "short"):
        raise ValueError(f"sssnet_composite takes '' or 'short', got {arg!r}")
    return meb_composite("sssnet_composite", "sssnet", 64, lr=1e-4,
                         epochs=SHORT_EPOCHS if arg == "short" else 200, widths=(32, 64),
                         hidden=256, dropout=0.5, softmax_output=True, conv_impl="auto")
