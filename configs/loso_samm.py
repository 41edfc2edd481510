r"""FaceSleuth-R, LOSO on SAMM (3 MEGC classes: 133 samples over 28 subjects on the full database).

SAMM is licensed: request it from Manchester Metropolitan University and pass its folder (SAMM_Micro_FACS_Codes_v2.xlsx and SAMM/).

  python run.py --config=configs/loso_samm.py --config.data.manual_dir=/path/to/SAMM

The first run converts the database (face crops, apex from the sheet, JAX TV-L1 flow) into
~/tensorflow_datasets/samm; later runs read that. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 34 min (442 samples, 68 folds, 20 epochs): about 6 min (28 folds, 30 epochs) plus the conversion.
Paper-sized model: --config=configs/loso_samm.py:paper (GPU/TPU advised).
Other class sets: --config.data.build.classes=five (happiness, anger, contempt, surprise, other) or native.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_samm", preset=arg or "compact")
    c.data.name = "samm"
    return c
