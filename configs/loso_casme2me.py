r"""FaceSleuth-R, LOSO on CAS(ME)^2's micro-expressions (57 clips of 22 subjects cut
from long videos; 3 MEGC classes from the sheet's estimated emotion, 'others' left out).

CAS(ME)^2 is licensed: request it from the Chinese Academy of Sciences and pass its
folder (CAS(ME)^2code_final.xlsx and rawpic/).

  python run.py --config=configs/loso_casme2me.py --config.data.manual_dir=/path/to/CASME_sq

The first run converts the database into ~/tensorflow_datasets/casme2me. Not timed
here: the database is licensed and not on this project's machines. Estimate for the
compact preset on a 2-core CPU, scaled by folds x training samples x epochs from the
composite's measured 22.9 min (68 folds, 436 training samples, 20 epochs): about 1.5
min (22 folds, ~55 training samples, 30 epochs), plus the conversion: measured on
the fixture in its layout (4 clips, default 112 px sizes, TV-L1 compiled;
``python -m bench.fixture_build_time``) 0.033 s a clip, so ~2 s for its 57 clips, plus TV-L1's
compilation (about a minute) and reading its larger frames. The builder is
tested on a fixture in CAS(ME)^2's layout (tests/test_mmew_casme2me.py).
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_casme2me", preset=arg or "compact")
    c.data.name = "casme2me"
    return c
