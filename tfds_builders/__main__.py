"""Build a database's records: ``python -m tfds_builders build NAME --manual_dir=DIR``.

NAME is casme2, samm, smic_hs, casme3 or megc2019_composite. Prints where the
dataset was written, its sample, class and subject counts, and every sample left
out with ``--on_error=skip``. Exit status 2 on bad input (the message names the
file and row); nothing is left that a later read would pick up.
The builders also follow the layout ``tfds build`` expects
(``tfds build tfds_builders/casme2 --manual_dir=DIR --file_format=array_record``),
but TFDS 4.9's ``tfds`` command imports TensorFlow at start-up
(scripts/cli/convert_format_utils.py), so it only runs where TensorFlow is
installed; this command needs none.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys

import tensorflow_datasets as tfds

from faceslueth_jax.preprocess import clip_flow
from tfds_builders.errors import BadInputError
from tfds_builders.me_database import CLASS_SETS, ON_ERROR, MEConfig
from tfds_builders.registry import DATABASE_BUILDERS, database_builder


def _parser() -> argparse.ArgumentParser:
    defaults = MEConfig(name="defaults")
    p = argparse.ArgumentParser(prog="python -m tfds_builders", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="convert one database into flow/apex records")
    b.add_argument("name", choices=sorted(DATABASE_BUILDERS))
    b.add_argument("--manual_dir", required=True, help="the database, in its own layout")
    b.add_argument("--data_dir", default=os.path.expanduser("~/tensorflow_datasets"))
    b.add_argument("--classes", default=defaults.classes, choices=CLASS_SETS)
    b.add_argument("--flow_size", type=int, default=defaults.flow_size)
    b.add_argument("--face_size", type=int, default=defaults.face_size)
    b.add_argument("--flow_method", default=defaults.flow_method, choices=clip_flow.FLOW_METHODS)
    b.add_argument("--flow_norm", default=defaults.flow_norm, choices=clip_flow.FLOW_NORMS)
    b.add_argument("--apex", default=defaults.apex, choices=clip_flow.APEX_METHODS,
                   help="how to find an apex the sheet lacks")
    b.add_argument("--margin", type=float, default=defaults.margin)
    b.add_argument("--face_color", action="store_true",
                   help="store RGB faces instead of grey (flow is computed on grey)")
    b.add_argument("--jitter_frames", type=int, default=defaults.jitter_frames,
                   help="K > 0: also store K-frame onset/apex windows for temporal jitter")
    b.add_argument("--clip_frames", type=int, default=defaults.clip_frames,
                   help="T > 0: also store T grey frames uniform over onset..offset (FDP)")
    b.add_argument("--on_error", default="raise", choices=ON_ERROR)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    fields = {k: getattr(args, k) for k in ("classes", "flow_size", "face_size", "flow_method",
                                            "flow_norm", "apex", "margin", "face_color",
                                            "jitter_frames", "clip_frames")}
    try:
        builder = database_builder(args.name).from_fields(args.data_dir, on_error=args.on_error,
                                                          **fields)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir))
    except (BadInputError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    source = builder.as_data_source()["train"]
    names = builder.info.features["label"].names
    classes = collections.Counter(names[int(source[i]["label"])] for i in range(len(source)))
    subjects = {(source[i]["dataset"], source[i]["subject"]) for i in range(len(source))}
    print(f"{builder.name}/{builder.builder_config.name}: {len(source)} samples, "
          f"{len(subjects)} subjects -> {builder.data_dir}")
    print("  classes: " + ", ".join(f"{n} {classes[n]}" for n in names))
    metadata = builder.info.metadata
    for key in ("excluded_emotions", "not_in_megc2019", "missing"):
        if metadata.get(key):
            print(f"  {key}: {metadata[key]}")
    for line in metadata.get("skipped", []):
        print(f"  skipped {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
