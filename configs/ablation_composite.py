r"""The ablation of FaceSleuth-R's parts on the MEGC2019 composite (HTNet's release),
one cell of the grid per run: protocol x variant, 3 seeds each (``protocol.seeds``).

  variant      motion stream   SOA   appearance stream (FPF)
  motion       yes             no    no
  motion_soa   yes             yes   no
  fpf          yes             no    yes
  full         yes             yes   yes     (= configs/loso_composite.py, 3 seeds)

Without SOA every stage is a plain residual stage of the same widths
(``motion.soa_mode='none'``). Everything else is the compact recipe of
configs/loso_composite.py (20 epochs, seeds 0, 1, 2), so the cells differ only in the
switch, and two cells compare pair-wise (same folds, same seeds):

  python run.py --config=configs/ablation_composite.py:lodo,full \
      --config.data.manual_dir=../shared/data/htnet_composite --workdir=runs/ablation/lodo_full
  python -m faceslueth_jax.evaluation.report --compare runs/ablation/lodo_full \
      runs/ablation/lodo_fpf

``bash bench/ablation_composite.sh --manual_dir DIR --protocols lodo`` runs every cell
and prints the table and the comparisons (docs/studies.md, "Does SOA help?").

Measured on a 2-core CPU (AMD EPYC, jax 0.10.2), 3 seeds: LODO motion 84 s, motion_soa
113 s, fpf 102 s, full 145 s (the whole LODO grid 7.4 minutes). LOSO, 3 seeds, on 2 cores
shared with other runs: motion 50.4 min, motion_soa 69.6 min, fpf 69.2 min, full 57.6 min
(alone about 3 x the 22.9 minutes of configs/loso_composite.py).
"""

from configs.common import base_config

VARIANTS = {  # variant -> (soa_mode, use_appearance)
    "motion": ("none", False),
    "motion_soa": ("steerable", False),
    "fpf": ("none", True),
    "full": ("steerable", True),
}
PROTOCOLS = ("loso", "lodo")


def get_config(arg: str = "lodo,full"):
    protocol, _, variant = (arg or "lodo,full").partition(",")
    if protocol not in PROTOCOLS or variant not in VARIANTS:
        raise ValueError(f"configs/ablation_composite.py: the argument is 'PROTOCOL,VARIANT' "
                         f"with PROTOCOL in {PROTOCOLS} and VARIANT in {tuple(VARIANTS)}, "
                         f"got {arg!r}")
    c = base_config(f"ablation_{protocol}_{variant}")
    c.data.name = "htnet_composite"
    c.protocol.name = protocol
    c.protocol.seeds = 3
    c.train.epochs = 20
    # as configs/loso_composite.py: the short last batch every figure was measured with
    c.train.last_batch = "short"
    soa_mode, appearance = VARIANTS[variant]
    c.model.faceslueth_r.motion.soa_mode = soa_mode
    c.model.faceslueth_r.use_appearance = appearance
    return c
