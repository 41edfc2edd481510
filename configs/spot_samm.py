r"""Spotting in SAMM's long videos (SAMM-LV, 200 fps, the frames and the V1 sheet as
distributed), LOSO over its subjects; both spotters.

  python run.py --config=configs/spot_samm.py --config.data.manual_dir=/data/SAMM_LV

manual_dir holds SAMM_LongVideos_V1_Release.xlsx and SAMM_longvideos/006_1/006_1_0001.jpg
... (tfds_builders/samm_lv). The database is licensed and not on this project's
machines, so no time or result is measured here; at 200 fps the spans are 40, 80 and
260 frames, and its ~1.1 million frames take the features' three TV-L1 flows each on
first use (about 45 frames a second at 64 px on a 2-core CPU measured on synthetic
video: roughly 7 hours; a GPU computes the flow far faster).
"""

from configs.spot_synthetic import spotting_config


def get_config(arg: str = ""):
    del arg
    return spotting_config("spot_samm", "samm_lv")
