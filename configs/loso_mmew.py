r"""FaceSleuth-R, LOSO on MMEW's micro-expressions (300 clips; 3 MEGC classes: the
'others' clips left out).

MMEW is licensed: request it from its authors and pass its folder (MMEW_Micro_Exp.xlsx
and Micro_Expression/).

  python run.py --config=configs/loso_mmew.py --config.data.manual_dir=/path/to/MMEW

The first run converts the database (face crops, apex from the sheet or spotted,
JAX TV-L1 flow) into ~/tensorflow_datasets/mmew. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 22.9 min (68 folds, 436 training samples, 20 epochs): about 10 min (some 30
subjects, ~290 training samples, 30 epochs), plus the conversion: measured on
the fixture in its layout (6 clips, default 112 px sizes, TV-L1 compiled;
``python -m bench.fixture_build_time``) 0.033 s a clip, so ~10 s for its 300 clips, plus TV-L1's
compilation (about a minute) and reading its larger frames. The builder itself
is tested on a fixture in MMEW's layout (tests/test_mmew_casme2me.py).
Native classes (seven emotions): --config.data.build.classes=native.
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_mmew", preset=arg or "compact")
    c.data.name = "mmew"
    return c
