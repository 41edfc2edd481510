"""Small data sets written in the databases' own on-disk layouts, for tests."""

from __future__ import annotations

import csv
import pathlib

import cv2
import numpy as np

from tfds_builders.htnet_composite import htnet_composite_dataset_builder as composite

# (dataset, sub, filename_o, label, imagename) in the HTNet release's spelling
COMPOSITE_ROWS = [
    ("casme2", "sub01", "EP02_01f", 1, "sub01_EP02_01f.jpg"),
    ("casme2", "sub01", "EP19_05f", 0, "sub01_EP19_05f.jpg"),
    ("casme2", "sub02", "EP01_11f", 0, "sub02_EP01_11f.jpg"),
    ("samm", "006", "006_1_2", 0, "006_006_1_2.jpg"),
    ("samm", "007", "007_7_1", 2, "007_007_7_1.jpg"),
    ("smic", "s01", "s01_ne_01", 0, "s01_s1_ne_01.jpg"),
    ("smic", "s02", "s02_po_01", 1, "s02_s2_po_01.jpg"),
]


def write_htnet_composite(root: pathlib.Path, rows=COMPOSITE_ROWS, seed: int = 0) -> pathlib.Path:
    """An HTNet-layout composite: CSV, 28x28 BGR flow PNGs ('<id> .png'), 224 apex JPGs."""
    rng = np.random.default_rng(seed)
    (root / composite.FLOW_DIR).mkdir(parents=True, exist_ok=True)
    (root / composite.APEX_DIR).mkdir(parents=True, exist_ok=True)
    with open(root / composite.CSV_NAME, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename"])
        for dataset, sub, name, label, imagename in rows:
            w.writerow([dataset, sub, name, label, "", imagename, ""])
            flow = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
            cv2.imwrite(str(root / composite.FLOW_DIR / f"{sub}_{name} .png"), flow)
            apex = rng.integers(0, 256, (224, 224), dtype=np.uint8)
            cv2.imwrite(str(root / composite.APEX_DIR / imagename),
                        np.repeat(apex[..., None], 3, axis=-1))
    return root
