r"""ResNet-18 from scratch, LOSO over the 68 subjects of the MEGC2019 composite as HTNet
released it: its onset-apex flow (u, v, strain) resized from 28x28 to 64x64.

meb's composite run of ResNet-18 (its 2022 notebook "RCN-A and SSSNet for megc",
commit 91d33fb; UF1 0.6979) starts from ImageNet weights; none can be fetched where
this project is tested, so this network starts from random weights, with meb's recipe
otherwise: torch's SGD(lr=0.01, momentum=0.9, weight_decay=1e-3), batch 128, 200
epochs, cross-entropy, no augmentation.

  python run.py --config=configs/resnet18_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

Measured on a 2-core CPU (jax 0.10.2) while a training run shared it: one training step
of 128 flows at 64x64 took 1.29 s, 5.2 s per fold-epoch, 6 minutes per epoch of the 68
folds; the 200 epochs would take about 20 hours on such a machine (GPU advised).
``:short`` trains the first 10 epochs (the lr is constant): one seed of it, 68 folds,
took 64.7 minutes on 2 CPU cores alone (about 60 s a fold;
bench/runs/resnet18_composite_short_seed1; seeds 0 and 2, sharing the cores at times,
84.8 and 89.5 minutes).
"""

from configs.common import meb_composite

SHORT_EPOCHS = 10


def get_config(arg: str = ""):
    """'' meb's recipe; 'short': its first 10 epochs (the lr is constant)."""
    if arg not in ("", "short"):
        raise ValueError(f"resnet18_composite takes '' or 'short', got {arg!r}")
    return meb_composite("resnet18_composite", "resnet18", 64, lr=0.01, optimizer="sgd",
                         batch_size=128, epochs=SHORT_EPOCHS if arg == "short" else 200,
                         blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), conv_impl="auto")
