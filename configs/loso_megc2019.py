r"""FaceSleuth-R, LOSO on the MEGC2019 composite, built from the raw databases (CASME II + SAMM + SMIC-HS, 3 classes, 442 samples over 68 subjects).

Each database is licensed. Pass a folder holding casme2/, samm/ and smic_hs/, each in its own layout. (configs/loso_composite.py reads HTNet's ready-made release instead.)

  python run.py --config=configs/loso_megc2019.py --config.data.manual_dir=/path/to/MEGC2019

The first run converts the database (face crops, apex from the sheets, spotted for SMIC-HS, JAX TV-L1 flow) into
~/tensorflow_datasets/megc2019_composite; later runs read that. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 34 min (442 samples, 68 folds, 20 epochs): about 34 min (68 folds, 20 epochs) plus the conversion.
Paper-sized model: --config=configs/loso_megc2019.py:paper (GPU/TPU advised).
Other class sets: the composite is 3-class only.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_megc2019", preset=arg or "compact")
    c.data.name = "megc2019_composite"
    c.train.epochs = 20
    return c
