r"""STSTNet (Liong et al. 2019), LOSO over the 68 subjects of the MEGC2019 composite
as HTNet released it, with the recipe of the independent toolkit tvaranka/meb:
the calibration point of this project's honest figures.

meb ("Data Leakage and Evaluation Issues in Micro-Expression Analysis", IEEE TAC
2024, Table 3) trains STSTNet on its own loader's 28x28 flow with torch's
Adam(lr=5e-5, weight_decay=1e-3) (L2 added to the gradient), batch 32, 200 epochs,
cross-entropy, no augmentation, and reports UF1 0.7127 for the fixed schedule and
0.7740 when each subject keeps its best test epoch. Here: the same network
(faceslueth_jax/models/ststnet.py), the same optimiser and schedule, HTNet's 28x28
flow (u, v, strain) min-max normalised per sample, each fold's batches drawn from a
per-epoch permutation (meb shuffles too).

  python run.py --config=configs/ststnet_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

32.2 minutes measured on a 2-core CPU (AMD EPYC, jax 0.10.2; 31.4 of them training,
0.138 s per fold-epoch). It scored UF1 0.676 / UAR 0.660 at the last epoch (seed 0;
best test epoch, OPTIMISTIC: 0.743 / 0.730), within 0.04 of meb's 0.7127 / 0.7740.
Over 5 epochs: 0.115 s per fold-epoch with one fold per program (the CPU default),
0.135 s with all 68 folds in one program (``--config.max_folds_per_chunk=68``), 0.32 s
with lax convolutions in place of the matmul form.
"""

from configs.common import meb_composite


def get_config(arg: str = ""):
    del arg
    c = meb_composite("ststnet_composite", "ststnet", 28, widths=(3, 5, 8), dropout=0.5,
                      conv_impl="auto")
    c.model.preset = "published"  # the published layer sizes
    return c
