r"""FaceSleuth-R, LOSO over the 68 subjects of the MEGC2019 composite as HTNet
released it (CASME II + SAMM + SMIC-HS, 442 samples, 3 classes).

The release holds 28x28 flow (u, v, strain) and the apex face, no onset frame,
so the appearance stream sees the apex only.

  python run.py --config=configs/loso_composite.py \
      --config.data.manual_dir=/path/to/HTNet

22.9 minutes measured on a 2-core CPU (AMD EPYC, jax 0.10.2) with the compact preset
(68 folds of ~436 training samples, 20 epochs; 29 s of it compiling, 21 min training);
about 41 minutes before the sweep speed-up of Dec 2026 (bench/README.md).
Plan it for an accelerator first, compiled ahead of time on a CPU (no GPU or TPU used):

  python -m faceslueth_jax.plan --config=configs/loso_composite.py:paper \
      --target=gpu:h100:8        # or tpu:v5e:4x4, gpu:h200:8, local

Measured compile times on the 2-core CPU (bench/runs/plans/): compact on gpu:h100:1
166 s, gpu:h100:8 368 s, tpu:v5e:4x4 1119 s; paper on gpu:h100:8 431 s (5 folds per
GPU, 2 chunks), gpu:h200:8 633 s (9 per GPU, 1 chunk), tpu:v5e:4x4 1170 s.
The optimistic rule of the references: --config.protocol.selection=best_test_epoch
(both rules are always reported; this picks the headline).
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_composite", preset=arg or "compact")
    c.data.name = "htnet_composite"
    c.train.epochs = 20
    # every composite figure in docs/results.md was measured with the short last batch; on LODO
    # (motion stream, 3 seeds) 'fill' scored UF1 -0.024 [-0.047, -0.002] against it
    c.train.last_batch = "short"
    return c
