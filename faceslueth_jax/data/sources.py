"""Which TFDS builder serves a config's ``data.name``, and building it on first use."""

from __future__ import annotations

import os
import pathlib

import tensorflow_datasets as tfds

from faceslueth_jax.data import records

LICENSED = {
    "casme2": ("CASME II",
               "Request it from the CASME team (http://casme.psych.ac.cn/casme/e2) and put "
               "CASME2-coding-*.xlsx with CASME2_RAW_selected/subXX/EPxx_yy/imgN.jpg (or "
               "Cropped/subXX/EPxx_yy/reg_imgN.jpg) under one folder"),
    "samm": ("SAMM",
             "Request it from Manchester Metropolitan University "
             "(http://www2.docm.mmu.ac.uk/STAFF/M.Yap/dataset.php) and put "
             "SAMM_Micro_FACS_Codes_v2.xlsx with SAMM/006/006_1_2/006_05562.jpg ... under one folder"),
    "smic_hs": ("SMIC-HS",
                "Request it from the University of Oulu (SMIC, https://www.oulu.fi/cmvs) and put "
                "HS/s1/micro/{negative,positive,surprise}/s1_ne_01/image######.bmp under one folder"),
    "casme3": ("CAS(ME)^3",
               "Request it from the CASME team (http://casme.psych.ac.cn/casme/e4) and put "
               "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx with spNO.1/b/color/175.jpg ... "
               "under one folder"),
}


class DataUnavailable(RuntimeError):
    """The data a config asks for cannot be had; the message says what to do."""


def _builder(cfg, data_dir: str):
    if cfg.name == "synthetic_me":
        from tfds_builders.synthetic_me import SyntheticMe
        return SyntheticMe.from_fields(data_dir, **dict(cfg.synthetic))
    if cfg.name == "htnet_composite":
        from tfds_builders.htnet_composite import HtnetComposite
        return HtnetComposite(data_dir=data_dir, file_format="array_record")
    if cfg.name in LICENSED:
        title, how = LICENSED[cfg.name]
        where = cfg.get("manual_dir") or "<manual_dir>"
        raise DataUnavailable(
            f"{title} is licensed and cannot be downloaded automatically. {how}, then pass "
            f"--config.data.manual_dir={where}. The '{cfg.name}' TFDS builder that converts "
            "it into flow/apex records is not part of this release yet; until it lands, "
            "run configs/loso_synthetic.py or configs/loso_composite.py.")
    raise DataUnavailable(f"unknown data.name {cfg.name!r}; known: synthetic_me, "
                          f"htnet_composite, {', '.join(LICENSED)}")


def load(cfg) -> records.MEData:
    """Build the dataset if needed (atomically, by TFDS) and read it into memory."""
    builder = _builder(cfg, os.path.expanduser(cfg.data_dir))
    manual_dir = cfg.get("manual_dir") or None
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if instructions and not (manual_dir and pathlib.Path(manual_dir).is_dir()):
        raise DataUnavailable(f"data.name={cfg.name!r} needs --config.data.manual_dir, an "
                              f"existing folder (got {manual_dir!r}). {instructions}")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return records.read_builder(builder)
