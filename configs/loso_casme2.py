r"""FaceSleuth-R, LOSO on CASME II (3 MEGC classes: 145 samples over 24 subjects on the full database).

CASME II is licensed: request it from the CASME team and pass its folder (CASME2-coding-*.xlsx and Cropped/ or CASME2_RAW_selected/).

  python run.py --config=configs/loso_casme2.py --config.data.manual_dir=/path/to/CASME2

The first run converts the database (face crops, apex from the sheet, spotted where the cell is empty or '/', JAX TV-L1 flow) into
~/tensorflow_datasets/casme2; later runs read that. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 34 min (442 samples, 68 folds, 20 epochs): about 6 min (24 folds, 30 epochs) plus the conversion.
Paper-sized model: --config=configs/loso_casme2.py:paper (GPU/TPU advised).
Other class sets: --config.data.build.classes=five (happiness, repression, disgust, surprise, others: 247 samples) or native.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_casme2", preset=arg or "compact")
    c.data.name = "casme2"
    return c
