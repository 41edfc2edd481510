r"""FaceSleuth-R, LOSO on SMIC-HS (3 classes: 164 samples over 16 subjects).

SMIC is licensed: request it from the University of Oulu and pass the folder that holds HS/.

  python run.py --config=configs/loso_smic.py --config.data.manual_dir=/path/to/SMIC

The first run converts the database (face crops, apex spotted, as SMIC has no apex annotation, JAX TV-L1 flow) into
~/tensorflow_datasets/smic_hs; later runs read that. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 34 min (442 samples, 68 folds, 20 epochs): about 5 min (16 folds, 30 epochs) plus the conversion.
Paper-sized model: --config=configs/loso_smic.py:paper (GPU/TPU advised).
Other class sets: --config.data.build.classes=megc3 (SMIC's own negative/positive/surprise) or native, the same.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_smic", preset=arg or "compact")
    c.data.name = "smic_hs"
    return c
