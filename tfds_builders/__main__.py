"""Build a database's records: ``python -m tfds_builders build NAME --manual_dir=DIR``.

NAME is casme2, samm, smic_hs, casme3 or megc2019_composite. Prints one line
saying what is built from where into where, then the dataset's sample, class and
subject counts, and every sample left out with ``--on_error=skip``; TFDS's own
"Downloading and preparing ..." notes and progress bars are not shown (nothing is
downloaded; ``tfds_builders.building``). Records already built are reused
when they record the same source (sheet contents, frame names and sizes, options,
builder version; ``tfds_builders.source_fingerprint``), refused in one line naming
what changed when not, and rebuilt with ``--overwrite``. Exit status 2, with one line
``error: ...``, for a --manual_dir that is missing or empty (checked before
anything is written) or not in the database's layout (the message names the
file); bad samples are listed one per line, with their file and row. A failed
build leaves nothing under --data_dir that was not there before.
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

from faceslueth_jax import cli  # noqa: F401 - no TPU probe (and its warnings) without a TPU
from faceslueth_jax.preprocess import clip_flow, landmarks
from tfds_builders import building
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import CLASS_SETS, ON_ERROR, MEConfig
from tfds_builders.registry import DATABASE_BUILDERS, database_builder

FIELDS = ("classes", "flow_size", "face_size", "flow_method", "flow_norm", "apex", "margin",
          "face_color", "jitter_frames", "clip_frames", "face_detector", "face_align")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default (none for required arguments); the
    description keeps its line breaks."""

    def _get_help_string(self, action):
        return action.help if action.required else super()._get_help_string(action)


def _classes_help() -> str:
    """What each class set of CLASS_SETS means, with the five-class sets as the
    builders define them."""
    five = "; ".join(f"{name}: {', '.join(cls.CLASS_NAMES['five'])}"
                     for name in DATABASE_BUILDERS
                     if "five" in (cls := database_builder(name)).CLASS_NAMES)
    return (f"class set the emotions are mapped to: megc3 = the MEGC2019 3 classes "
            f"{' / '.join(MEGC_CLASSES)} (every database); five = the reference's 5 classes "
            f"({five}; only these databases); native = the database's own emotion labels, "
            f"unmapped. Emotions outside the set are left out and counted in the metadata")


def _parser() -> argparse.ArgumentParser:
    defaults = MEConfig(name="defaults")
    p = argparse.ArgumentParser(prog="python -m tfds_builders", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="convert one database into flow/apex records",
                       description=__doc__, formatter_class=_Formatter)
    b.add_argument("name", choices=sorted(DATABASE_BUILDERS),
                   help="the database: casme2, samm, smic_hs, casme3, or megc2019_composite "
                        "(CASME II + SAMM + SMIC-HS, the MEGC2019 benchmark's samples)")
    b.add_argument("--manual_dir", required=True,
                   help="required: the database's folder, in its layout as released (see each "
                        "builder's docstring); a missing or empty folder is refused before "
                        "anything is written")
    b.add_argument("--data_dir", default=os.path.expanduser("~/tensorflow_datasets"),
                   help="where the records are written, as DATA_DIR/NAME/CONFIG/VERSION "
                        "(CONFIG spells the options below)")
    b.add_argument("--classes", default=defaults.classes, choices=CLASS_SETS,
                   help=_classes_help())
    b.add_argument("--flow_size", type=int, default=defaults.flow_size,
                   help="side in pixels of the stored optical flow (u, v, strain): 28 for "
                        "STSTNet/HTNet inputs, 112 or 224 for FaceSleuth-R")
    b.add_argument("--face_size", type=int, default=defaults.face_size,
                   help="side in pixels of the face crops the flow is computed on (the stored "
                        "faces have this side too)")
    b.add_argument("--flow_method", default=defaults.flow_method, choices=clip_flow.FLOW_METHODS,
                   help="optical flow onset -> apex: tvl1 = the project's JAX TV-L1, "
                        "farneback = OpenCV's Farneback")
    b.add_argument("--flow_norm", default=defaults.flow_norm, choices=clip_flow.FLOW_NORMS,
                   help="stored flow values: raw = pixels per onset-apex interval, minmax = "
                        "each sample's channels scaled to 0..1")
    b.add_argument("--apex", default=defaults.apex, choices=clip_flow.APEX_METHODS,
                   help="how to find an apex the sheet lacks (SMIC always, having no sheet; "
                        "a sheet row with no apex): flow = the frame of largest TV-L1 motion "
                        "from the onset, middle = the middle frame of onset..offset")
    b.add_argument("--margin", type=float, default=defaults.margin,
                   help="face box margin on each side, a fraction of the detected box's side "
                        "(0.1 makes the box 1.2x); unused for faces the database cropped")
    b.add_argument("--face_color", action="store_true",
                   help="store RGB faces (S, S, 3) instead of grey (S, S, 1); the flow is "
                        "computed on grey either way")
    b.add_argument("--jitter_frames", type=int, default=defaults.jitter_frames,
                   help="K > 0: also store the K-frame onset and apex windows that a "
                        "training-time temporal jitter draws from; 0: none")
    b.add_argument("--clip_frames", type=int, default=defaults.clip_frames,
                   help="T >= 2: also store T grey face frames uniform over onset..offset "
                        "(FDP's input); 0: none")
    b.add_argument("--face_detector", default=defaults.face_detector, choices=landmarks.DETECTORS,
                   help="the face box on each clip's onset frame: haar = OpenCV's cascade (no "
                        "dlib needed), dlib_hog / dlib_cnn = dlib's HOG / CNN detector "
                        f"({landmarks.INSTALL})")
    b.add_argument("--face_align", default=defaults.face_align, choices=landmarks.ALIGNMENTS,
                   help="none = the detector's square box; landmarks68 = one similarity from the "
                        "onset's 68-point eye centres (dlib) warps every frame. "
                        "Without dlib both fall back to haar/none, noted in the metadata "
                        "(face_chain)")
    b.add_argument("--overwrite", action="store_true",
                   help="rebuild the records even when they are there (the old ones stay "
                        "readable until the new ones are complete); without it, records "
                        "built from a source that differs from --manual_dir are refused")
    b.add_argument("--on_error", default="raise", choices=ON_ERROR,
                   help="a bad sample (missing frame, no face, unknown emotion ...): raise = "
                        "refuse the build listing every one with its file and row, nothing "
                        "written; skip = leave them out, listed in the metadata (skipped) "
                        "and printed")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    cls = database_builder(args.name)
    fault = building.manual_dir_fault(args.manual_dir)
    if fault:
        print(f"error: {args.name}: --manual_dir {args.manual_dir} {fault}. "
              f"{cls.MANUAL_DOWNLOAD_INSTRUCTIONS}", file=sys.stderr)
        return 2
    try:
        with building.quiet():
            builder = cls.from_fields(args.data_dir, on_error=args.on_error,
                                      **{k: getattr(args, k) for k in FIELDS})
        builder = building.prepare(builder, args.manual_dir,
                                   rebuild="always" if args.overwrite else "never",
                                   say=lambda line: print(line, flush=True))
    except (BadInputError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _summary(builder)
    return 0


def _summary(builder) -> None:
    """The built dataset's counts, excluded emotions and skipped samples."""
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


if __name__ == "__main__":
    sys.exit(main())
