r"""FaceSleuth-R, leave one database out over CASME II, SAMM, SMIC-HS and CAS(ME)^3
(Part A), 3 MEGC classes: train on three, test on the fourth (4 folds).

Each database is licensed and read from its own folder, in its own layout:

  python run.py --config=configs/lodo_databases.py \
      --config.data.manual_dirs.casme2=/path/to/CASME2 --config.data.manual_dirs.samm=/path/to/SAMM \
      --config.data.manual_dirs.smic_hs=/path/to/SMIC --config.data.manual_dirs.casme3=/path/to/CASME3

Any set of databases works the same way (--config.data.names="('casme2','mmew')" with
--config.data.manual_dirs.<name> for each); they are built with the same data.build
settings and class set.
Reported: UF1/UAR per held-out database and their mean. Not timed here (licensed
data). Estimate for the compact preset on a 2-core CPU, scaled from the composite's
LODO (3 folds of ~295 training samples, 20 epochs: 48 s a seed): about 4 min for 4
folds of ~1000 training samples, plus each database's conversion on first use.
"""

from configs.common import base_config

DATABASES = ("casme2", "samm", "smic_hs", "casme3")


def get_config(arg: str = "compact"):
    c = base_config("lodo_databases", preset=arg or "compact")
    c.data.names = DATABASES
    c.protocol.name = "lodo"
    c.train.epochs = 20
    return c
