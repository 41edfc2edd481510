r"""FaceSleuth-R, LOSO on CASME II (3 MEGC classes by default).

CASME II is licensed: request it from its authors and point manual_dir at it.

  python run.py --config=configs/loso_casme2.py --config.data.manual_dir=/path/to/CASME2

Until the CASME II builder lands (issue #3) this fails at once, saying what to
download and where to put it; its run time is measured once it can run.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_casme2", preset=arg or "compact")
    c.data.name = "casme2"
    return c
