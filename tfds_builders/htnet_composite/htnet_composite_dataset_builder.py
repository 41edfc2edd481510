"""TFDS builder: the MEGC2019 composite (CASME II + SAMM + SMIC-HS, 3 classes) in
the layout the HTNet repository released it.

manual_dir holds (as in an HTNet checkout):
  combined_3_class2_for_optical_flow.csv   dataset, sub, filename_o, label, ...
  datasets/combined_datasets_whole/<imagename>    apex face, 224x224 (the CSV's
      imagename column; for SMIC it is not <sub>_<filename_o>, e.g. s01_s1_ne_01.jpg)
  datasets/STSNet_whole_norm_u_v_os/<sub>_<filename_o> .png   28x28 flow (note the
      space before .png); channels u, v, strain, each min-max scaled to 0..255 and
      read by OpenCV as B, G, R = strain, v, u.

Records: flow (28,28,3) float32 in 0..1 ordered (u, v, strain); apex
(224,224,1) uint8; no onset frame is released.
"""

from __future__ import annotations

import csv
import pathlib

import cv2
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import source_fingerprint
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES, me_features
from tfds_builders.sheets import outside_name
from tfds_builders.local_builder import LocalBuilder

FLOW_SIZE, FACE_SIZE = 28, 224  # as released
DATASETS = ("casme2", "samm", "smic")
CSV_NAME = "combined_3_class2_for_optical_flow.csv"
REQUIRED_COLUMNS = ("dataset", "sub", "filename_o", "label", "imagename")
FLOW_DIR = pathlib.Path("datasets", "STSNet_whole_norm_u_v_os")
APEX_DIR = pathlib.Path("datasets", "combined_datasets_whole")


class CompositeDataError(BadInputError):
    """Bad input in the HTNet composite: names the file and the CSV row."""


def _read_image(path: pathlib.Path, flags: int, shape: tuple, where: str) -> np.ndarray:
    if not path.is_file():
        raise CompositeDataError(f"htnet_composite: {where}: missing file {path}")
    image = cv2.imread(str(path), flags)
    if image is None:
        raise CompositeDataError(f"htnet_composite: {where}: unreadable or corrupt image {path}")
    if image.shape[:2] != shape:
        raise CompositeDataError(
            f"htnet_composite: {where}: {path} is {image.shape[:2]}, expected {shape}")
    return image


def read_rows(manual_dir: pathlib.Path) -> list[dict]:
    """CSV rows, validated: columns present, known dataset and label, no duplicates."""
    path = pathlib.Path(manual_dir) / CSV_NAME
    if not path.is_file():
        raise CompositeDataError(
            f"htnet_composite: {path} not found. Point manual_dir at an HTNet checkout "
            f"(it holds {CSV_NAME} and datasets/).")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CompositeDataError(
                f"htnet_composite: {path}: missing column(s) {missing}; found {reader.fieldnames}")
        rows, seen = [], {}
        for line, row in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            if row["dataset"] not in DATASETS:
                raise CompositeDataError(
                    f"htnet_composite: {where}: unknown dataset {row['dataset']!r}, "
                    f"expected one of {DATASETS}")
            if row["label"] not in {str(i) for i in range(len(MEGC_CLASSES))}:
                raise CompositeDataError(
                    f"htnet_composite: {where}: unknown label {row['label']!r}, "
                    f"expected 0..{len(MEGC_CLASSES) - 1}")
            sample_id = f"{row['sub']}_{row['filename_o']}"
            named = [c for c in ("sub", "filename_o", "imagename") if outside_name(row[c])]
            if named:
                raise CompositeDataError(
                    f"htnet_composite: {where}: {named[0]} {row[named[0]]!r} leads outside "
                    f"{path.parent} (an absolute path or '..')")
            if sample_id in seen:
                raise CompositeDataError(
                    f"htnet_composite: {where}: sample {sample_id} duplicates line {seen[sample_id]}")
            seen[sample_id] = line
            rows.append(dict(row, sample_id=sample_id, where=where))
    if not rows:
        raise CompositeDataError(f"htnet_composite: {path} has no samples")
    return rows


def read_sample(manual_dir: pathlib.Path, row: dict) -> dict:
    manual_dir = pathlib.Path(manual_dir)
    flow_bgr = _read_image(manual_dir / FLOW_DIR / f"{row['sample_id']} .png",
                           cv2.IMREAD_COLOR, (FLOW_SIZE, FLOW_SIZE), row["where"])
    apex = _read_image(manual_dir / APEX_DIR / row["imagename"],
                       cv2.IMREAD_GRAYSCALE, (FACE_SIZE, FACE_SIZE), row["where"])
    return {
        "flow": (flow_bgr[..., ::-1] / 255.0).astype(np.float32),
        "apex": apex[..., None],
        "label": int(row["label"]),
        "subject": row["sub"],
        "dataset": row["dataset"],
        "sample_id": row["sample_id"],
    }


class HtnetComposite(LocalBuilder):
    """MEGC2019 composite (442 samples, 68 subjects) as HTNet released it."""

    VERSION = tfds.core.Version("1.0.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Clone https://github.com/wangzhifengharrison/HTNet (the composite is derived "
        "from CASME II, SAMM and SMIC-HS, licensed for research use: hold a licence for "
        "each) and pass its root as manual_dir; it must contain "
        f"{CSV_NAME}, {APEX_DIR}/ and {FLOW_DIR}/.")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=me_features(FLOW_SIZE, FACE_SIZE, MEGC_CLASSES, with_onset=False),
            metadata=tfds.core.MetadataDict(flow_units="per-sample min-max 0..1"),
        )

    def _split_generators(self, dl_manager):
        source_fingerprint.record(self, dl_manager.manual_dir)
        return {"train": self._generate_examples(pathlib.Path(dl_manager.manual_dir))}

    def _generate_examples(self, manual_dir: pathlib.Path):
        """Validates every row and image before the first record is yielded.

        TFDS writes into an ``incomplete.*`` folder and renames it only on
        success, so a failed build leaves nothing a later read would pick up.
        """
        samples = [read_sample(manual_dir, row) for row in read_rows(manual_dir)]
        for sample in samples:
            yield sample["sample_id"], sample
