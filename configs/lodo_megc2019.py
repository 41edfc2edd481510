r"""FaceSleuth-R, leave one database out over the MEGC2019 composite built from
the raw databases: train on two of CASME II, SAMM and SMIC-HS, test on the
third (3 folds, 3 classes, 442 samples).

Each database is licensed. Pass a folder holding casme2/, samm/ and smic_hs/,
each in its own layout (configs/lodo_composite.py reads HTNet's release instead).

  python run.py --config=configs/lodo_megc2019.py --config.data.manual_dir=/path/to/MEGC2019

Reported: UF1/UAR per held-out database and their mean. Not timed here: the
databases are licensed and not on this project's machines; the same protocol on
HTNet's release of the same 442 samples (configs/lodo_composite.py) is timed in
that config, plus the conversion on first use (face crops, TV-L1 flow).
Paper-sized model: --config=configs/lodo_megc2019.py:paper (GPU/TPU advised).
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("lodo_megc2019", preset=arg or "compact")
    c.data.name = "megc2019_composite"
    c.protocol.name = "lodo"
    c.train.epochs = 20
    return c
