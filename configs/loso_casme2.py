r"""FaceSleuth-R, LOSO on CASME II (3 MEGC classes by default).

CASME II is licensed: request it from its authors and point manual_dir at it.

  python run.py --config=configs/loso_casme2.py --config.data.manual_dir=/path/to/CASME2

Until the CASME II builder lands this fails at once, saying what to download
and where to put it. Expected time with the compact preset on a 2-core CPU:
about 5 minutes (26 folds of ~250 samples, 30 epochs).
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_casme2", preset=arg or "compact")
    c.data.name = "casme2"
    return c
