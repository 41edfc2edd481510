"""TFDS builder: the MEGC2019 composite (CASME II + SAMM + SMIC-HS, 3 classes),
built from the three raw databases.

manual_dir holds one folder per database, each in that database's own layout
(see the casme2, samm and smic_hs builders):
  casme2/   CASME2-coding-*.xlsx, Cropped/ or CASME2_RAW_selected/
  samm/     SAMM_Micro_FACS_Codes_v2.xlsx, SAMM/
  smic_hs/  HS/

Classes, the MEGC2019 mapping:
  negative  SAMM anger, contempt, disgust, fear, sadness; CASME II disgust, repression;
            SMIC negative
  positive  happiness (SMIC positive)
  surprise  surprise
CASME II fear, sadness and others and SAMM Other are dropped. The benchmark also
drops clips that the mapping admits: membership follows ``megc2019_samples.csv``,
the benchmark's 442 samples (CASME II 145 over 24 subjects, SAMM 133 over 28,
SMIC-HS 164 over 16; subjects and samples spelled as in the HTNet release, e.g.
SMIC s1/s1_ne_01 -> s01/s01_ne_01). A mapped clip missing from that list is left
out and listed in the metadata (``not_in_megc2019``); a listed sample whose sheet
emotion maps to another class is a problem; listed samples absent from
manual_dir are counted in the metadata (``missing``).
"""

from __future__ import annotations

import csv
import pathlib
import re

from tfds_builders.casme2 import Casme2
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import Clip, MEConfig, MEDatabaseBuilder, Problems
from tfds_builders.samm import Samm
from tfds_builders.smic_hs import SmicHs

SAMPLES = pathlib.Path(__file__).with_name("megc2019_samples.csv")
# MEGC2019 dataset name -> (builder of the source database, its folder in manual_dir)
SOURCES = {"casme2": (Casme2, "casme2"), "samm": (Samm, "samm"), "smic": (SmicHs, "smic_hs")}


def megc2019_samples() -> dict[tuple, str]:
    """{(dataset, subject, sample): class} of the benchmark's 442 samples."""
    with open(SAMPLES, newline="") as f:
        return {(r["dataset"], r["subject"], r["sample"]): r["label"] for r in csv.DictReader(f)}


def megc2019_key(dataset: str, subject: str, sample_id: str) -> tuple:
    """(dataset, subject, sample) as the benchmark spells a source database's clip."""
    sample = sample_id[len(subject) + 1:]
    if dataset == "smic":  # s1 -> s01, s1_ne_01 -> s01_ne_01
        subject = re.sub(r"^s(\d+)$", lambda m: f"s{int(m[1]):02d}", subject)
        sample = re.sub(r"^s(\d+)_", lambda m: f"s{int(m[1]):02d}_", sample)
    return dataset, subject, sample


class Megc2019Composite(MEDatabaseBuilder):
    """MEGC2019 composite (442 samples over 68 subjects on the full databases)."""

    DATABASE = "megc2019_composite"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "The composite is built from CASME II, SAMM and SMIC-HS, each licensed (see the casme2, "
        "samm and smic_hs builders). Pass as manual_dir a folder holding casme2/, samm/ and "
        "smic_hs/, each in that database's own layout.")
    NATIVE_CLASSES = MEGC_CLASSES
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    BUILDER_CONFIGS = [MEConfig.named(), MEConfig.named(flow_size=28, face_size=112),
                       MEConfig.named(flow_size=224, face_size=224)]

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        """The clips of the three source databases, each marked with its MEGC2019
        dataset name; ``where`` starts with the source's folder."""
        clips = []
        for dataset, (source, folder) in SOURCES.items():
            for clip in source.list_clips(manual_dir / folder, problems):
                clip.database, clip.where = dataset, f"{folder}/{clip.where}"
                clips.append(clip)
        return clips

    def labelled_clips(self, manual_dir: pathlib.Path, problems: Problems) -> list[tuple]:
        """(clip, class) for the listed clips, renamed as the benchmark spells them."""
        listed = megc2019_samples()
        out, dropped = [], []
        for clip in self.list_clips(manual_dir, problems):
            label = self.map_emotion(clip, SOURCES[clip.database][0], "megc3", problems)
            if label is None:
                continue
            key = megc2019_key(clip.database, clip.subject, clip.sample_id)
            if key not in listed:
                dropped.append("/".join(key))
            elif (expected := listed.pop(key)) != label:
                problems.add(clip.sample_id, clip.where,
                             f"emotion {clip.emotion!r} maps to {label}, but MEGC2019 "
                             f"lists {'/'.join(key)} as {expected}")
            else:
                clip.subject, clip.sample_id = key[1], f"{key[1]}_{key[2]}"
                out.append((clip, label))
        self.info.metadata.update(not_in_megc2019=dropped, missing=len(listed),
                                  missing_examples=sorted("/".join(k) for k in listed)[:20])
        return out
