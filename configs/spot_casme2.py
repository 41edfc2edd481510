r"""Spotting in CAS(ME)^2's long videos (30 fps, the `rawpic` frames and the coding
sheet as distributed), LOSO over its subjects; both spotters.

  python run.py --config=configs/spot_casme2.py --config.data.manual_dir=/data/CASME2_long

manual_dir holds CAS(ME)^2code_final.xlsx and rawpic/s15/15_0101disgustingteeth/img1.jpg
... (tfds_builders/casme2_lv). The database is licensed and not on this project's
machines, so no time or result is measured here; the features take three TV-L1 flows
a frame (about 45 frames a second at 64 px on a 2-core CPU measured on synthetic
video, so roughly 1.5 hours for its ~250 000 frames on first use).
"""

from configs.spot_synthetic import spotting_config


def get_config(arg: str = ""):
    del arg
    return spotting_config("spot_casme2", "casme2_lv")
