r"""FaceSleuth-R trained on one database and tested on another (3 MEGC classes), the
directions the cross-database literature reports: CASME II -> SAMM and SAMM -> CASME II.

  python run.py --config=configs/cross_database.py:casme2,samm \
      --config.data.manual_dirs.casme2=/path/to/CASME2 --config.data.manual_dirs.samm=/path/to/SAMM
  python run.py --config=configs/cross_database.py:samm,casme2 (same folders)

The argument is TRAIN,TEST (any two built databases). Not timed here (licensed
data). Estimate for the compact preset on a 2-core CPU: under a minute of training
(one fold of ~150 training samples, 30 epochs), plus each database's conversion.
"""

from configs.common import base_config


def get_config(arg: str = "casme2,samm"):
    train, _, test = (arg or "casme2,samm").partition(",")
    if not train or not test:
        raise ValueError(f"configs/cross_database.py: the argument is TRAIN,TEST (e.g. "
                         f"casme2,samm), got {arg!r}")
    c = base_config(f"cross_{train}_{test}")
    c.data.names = (train, test)
    c.protocol.name = "cross"
    c.protocol.train = (train,)
    c.protocol.test = (test,)
    return c
