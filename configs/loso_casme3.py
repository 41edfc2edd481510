r"""FaceSleuth-R, LOSO on CAS(ME)^3 Part A (3 MEGC classes; negative = anger, disgust, fear, sad).

CAS(ME)^3 is licensed: request it from the CASME team and pass the Part A folder (cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx and spNO.*/).

  python run.py --config=configs/loso_casme3.py --config.data.manual_dir=/path/to/CASME3_partA

The first run converts the database (face crops, apex from the sheet, JAX TV-L1 flow) into
~/tensorflow_datasets/casme3; later runs read that. Not timed here: the database is
licensed and not on this project's machines. Estimate for the compact preset on a
2-core CPU, scaled by folds x training samples x epochs from the composite's
measured 34 min (442 samples, 68 folds, 20 epochs): depends on the release's sample count (several times CASME II: expect 20-40 min).
Paper-sized model: --config=configs/loso_casme3.py:paper (GPU/TPU advised).
Other class sets: --config.data.build.classes=native (the 7 emotions).
"""

from configs.common import base_config


def get_config(arg: str = "compact"):
    c = base_config("loso_casme3", preset=arg or "compact")
    c.data.name = "casme3"
    return c
