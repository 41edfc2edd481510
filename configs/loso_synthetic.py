r"""FaceSleuth-R, LOSO on the built-in synthetic micro-expression data.

16 synthetic subjects (~12 clips each, 3 classes), flow by the project's JAX
TV-L1, compact preset, 30 epochs, honest last-epoch selection.

  python run.py --config=configs/loso_synthetic.py

About 4.4 minutes on a 2-core CPU from a fresh clone (264 s measured with an
empty TFDS folder, building the data set with JAX TV-L1 on first use included;
8.3 minutes before the sweep speed-up of Dec 2026; 3.2 minutes with the data built).
UF1 0.829 / UAR 0.821, last epoch, seed 0 (docs/results.md). The paper-size network:
--config=configs/loso_synthetic.py:paper
(GPU recommended). Does SOA find the motion axis? Rebuild the data with
horizontal motion: --config.data.synthetic.orientation_deg=0
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    return base_config("loso_synthetic", preset=arg or "compact")
