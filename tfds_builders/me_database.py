"""What every licensed-database builder shares: configs, clips, problems, the chain.

A database builder lists its clips (``Clip``: subject, sample id, emotion,
numbered frames, onset/apex/offset frame numbers, the sheet row it came from)
and its class sets; this base turns each clip into a record:

  1. label: the emotion mapped through the config's class set ('megc3', 'five'
     or 'native'); emotions outside the set are excluded and counted;
  2. frames: onset and apex, or every frame onset..offset when the apex must
     be spotted; missing or damaged files are problems;
  3. face: one box found on the onset frame (``preprocess.face``; the detector is
     ``face_detector``), or the whole frame for clips the database already
     cropped; or, with ``face_align='landmarks68'``, the similarity alignment from
     the onset's 68-point landmarks (``preprocess.landmarks``). Without dlib the
     Haar box is used, and the metadata's ``face_chain`` says which ran;
  4. apex: the sheet's, or spotted (``preprocess.clip_flow.spot_apex``);
  5. flow onset -> apex on the grey face crops, strain, resize, normalisation;
  6. stored faces: grey, or RGB with ``face_color``; with ``jitter_frames``
     also the frame windows a training-time temporal jitter draws from; with
     ``clip_frames`` T also T grey frames uniform over onset..offset (FDP);
  7. action units: where the sheet codes them (``HAS_ACTION_UNITS``), the
     21-dim multi-hot FACS vector (``tfds_builders.action_units``).

Steps 2 to 6 are ``faceslueth_jax.preprocess.clip_record``, the chain that
``faceslueth_jax.predict`` runs on a new clip too.

Every problem (unknown emotion, apex outside onset..offset, duplicated sample,
missing or damaged frame, no face, a subject folder with no clips, an
unparseable Action Units cell) is collected
with the file and row that caused it. With ``on_error='raise'`` (default) the
build fails listing them all before the first record is written; with
``on_error='skip'`` those samples are left out and the list is saved in the
dataset's metadata (``skipped``) and logged. TFDS writes into a temporary
folder and renames it only on success, so a failed build leaves nothing that a
later read would pick up.
"""

from __future__ import annotations

import abc
import dataclasses
import pathlib

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from faceslueth_jax.preprocess import clip_record, face, frames, landmarks
from faceslueth_jax.preprocess.clip_record import jitter_span, jitter_windows  # noqa: F401
from tfds_builders import action_units, source_fingerprint
from tfds_builders.errors import BadInputError
from tfds_builders.sheets import number_fault, outside_name
from tfds_builders.features import me_features
from tfds_builders.local_builder import LocalBuilder

ON_ERROR = ("raise", "skip")
CLASS_SETS = ("megc3", "five", "native")
CLIP_FRAMES_NOTE = ("New config field clip_frames: T > 0 stores T grey face frames uniform "
                    "over onset..offset (frames, FDP's input).")
# The builders without action units (smic_hs, megc2019_composite).
BASE_VERSION = tfds.core.Version("1.1.0")
BASE_RELEASE_NOTES = {"1.0.0": "First release.", "1.1.0": CLIP_FRAMES_NOTE}
# The builders whose sheet codes action units (HAS_ACTION_UNITS) changed schema in 1.1.0.
AU_VERSION = tfds.core.Version("1.2.0")
AU_RELEASE_NOTES = {
    "1.0.0": "First release.",
    "1.1.0": "Records carry the sheet's FACS action units (au, 21-dim multi-hot); new config "
             "fields face_color (RGB faces) and jitter_frames (temporal jitter windows).",
    "1.2.0": CLIP_FRAMES_NOTE,
}


MIN_SIDE = 8  # the least side of a stored flow or face (TV-L1's coarsest level)
MAX_MARGIN = 2.0


@dataclasses.dataclass(eq=False)
class MEConfig(clip_record.ChainSettings, tfds.core.BuilderConfig):
    """What a record holds: classes, 'megc3' | 'five' | 'native', and how a clip
    becomes a record (``clip_record.ChainSettings``: sizes, flow method and
    normalisation, apex spotting, margin, colour, jitter windows, clip frames)."""

    classes: str = "megc3"

    @classmethod
    def named(cls, **fields) -> "MEConfig":
        """A config whose name spells its fields, so each variant gets its own folder
        (face_color, jitter_frames and clip_frames appear only when set, so the names
        of the configs that predate them are unchanged)."""
        c = cls(name="tmp", **fields)
        for side in ("flow_size", "face_size"):
            value = getattr(c, side)
            if isinstance(value, bool) or not isinstance(value, int) or value < MIN_SIDE:
                raise ValueError(f"{side} must be an integer >= {MIN_SIDE} (pixels), "
                                 f"got {value!r}")
        if not isinstance(c.margin, (int, float)) or not 0 <= c.margin <= MAX_MARGIN:
            raise ValueError(f"margin must be a number in [0, {MAX_MARGIN}] (a fraction of "
                             f"the face box's side), got {c.margin!r}")
        if not isinstance(c.jitter_frames, int) or c.jitter_frames < 0:
            raise ValueError(f"jitter_frames must be an integer >= 0, got {c.jitter_frames!r}")
        if not isinstance(c.clip_frames, int) or c.clip_frames < 0 or c.clip_frames == 1:
            raise ValueError(f"clip_frames must be 0 (off) or an integer >= 2, "
                             f"got {c.clip_frames!r}")
        # the folder spells what runs: without dlib, the Haar box (``face_chain``)
        detector, align, _ = landmarks.resolve(c.face_detector, c.face_align)
        name = (f"{c.classes}_flow{c.flow_size}_face{c.face_size}_{c.flow_method}_"
                f"{c.flow_norm}_apex{c.apex}_margin{c.margin:g}"
                + ("_rgb" if c.face_color else "")
                + (f"_jitter{c.jitter_frames}" if c.jitter_frames else "")
                + (f"_frames{c.clip_frames}" if c.clip_frames else "")
                + (f"_{detector}" if detector != "haar" else "")
                + ("_aligned68" if align == "landmarks68" else "")).replace(".", "p")
        return cls(name=name, **fields)


DEFAULT_CONFIGS = [MEConfig.named(), MEConfig.named(classes="five"),
                   MEConfig.named(classes="native"), MEConfig.named(flow_size=28, face_size=112),
                   MEConfig.named(flow_size=224, face_size=224)]


@dataclasses.dataclass
class Clip:
    """One annotated micro-expression of a database.

    frames: {frame number: file} for the clip's folder; onset/apex/offset are
    frame numbers (apex None when the sheet has none); cropped: the database
    already cropped the face, so no detection; where: the sheet file and row
    (or the folder) that defines the clip; action_units: the sheet's FACS
    code cell as text (None for databases without one); folder: the folder of
    the clip's frame files (named when it holds none).
    """

    subject: str
    sample_id: str
    emotion: str
    frames: dict
    onset: int
    apex: int | None
    offset: int
    cropped: bool
    where: str
    database: str = ""  # set by builders that merge databases
    action_units: str | None = None
    folder: pathlib.Path | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a sample (or a subject folder) cannot become a record."""

    sample_id: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.sample_id}: {self.reason}"


ClipError = clip_record.ClipError  # a clip's annotation cannot be used


def face_chain(settings: clip_record.ChainSettings, whole_boxes: int, clips: int) -> dict:
    """The metadata's account of step 3: the detector and alignment requested and
    used (they differ without dlib), dlib's version, and how many of the clips used
    the whole frame as the face box."""
    detector, align, note = landmarks.resolve(settings.face_detector, settings.face_align)
    return {"requested": {"face_detector": settings.face_detector,
                          "face_align": settings.face_align},
            "used": {"face_detector": detector, "face_align": align},
            "dlib": landmarks.dlib_version() or "not installed", "note": note,
            "whole_frame_boxes": f"{whole_boxes} of {clips} clips"}


def check_frames(clip: Clip, numbers, what: str) -> None:
    """Raise FrameError when a frame of ``numbers`` (``what`` they are, for the
    message) is not among the clip's files: one line giving the missing numbers
    (first five) and the full path of the first, named as the clip's other frames
    are (``frames.expected_path``)."""
    missing = sorted({n for n in numbers if n not in clip.frames})
    if not missing:
        return
    path = frames.expected_path(clip.frames, missing[0])
    more = f" (first of {len(missing)} missing)" if len(missing) > 1 else ""
    raise frames.FrameError(f"missing frame(s) {missing[:5]} of {what}: {path} not found{more}")


class Problems(list):
    """Problems found while listing a database, in the order found."""

    def add(self, sample_id: str, where: str, reason: str) -> None:
        self.append(Problem(sample_id, where, reason))


# frames a sheet row's onset..offset may span: 5 s at SAMM's 200 fps, past every
# micro-expression the databases annotate, so a larger span is a typo in the sheet
MAX_CLIP_FRAMES = 1000


def row_fault(subject: str, filename: str, onset, offset, folder: pathlib.Path,
              cells: dict | None = None) -> str | None:
    """Why a sheet row cannot name a clip (no subject or file name, a name that leads
    outside manual_dir, a frame-number cell of ``cells`` ({column: the cell as read})
    that is a formula, a spreadsheet error or no finite whole number
    (``sheets.number_fault``), onset or offset not a number, onset..offset longer than
    MAX_CLIP_FRAMES, no clip folder on disk), or None when it can. ``offset`` 0: the
    sheet gives none."""
    if not subject or not filename:
        return "Subject or Filename is empty or not valid"
    if outside_name(subject) or outside_name(filename):
        return (f"Subject {subject!r} or Filename {filename!r} leads outside the database's "
                "folder (an absolute path or '..')")
    fault = number_fault(cells or {})
    if fault:
        return fault
    if onset is None or offset is None:
        return "onset or offset frame is not a number"
    if offset and offset - onset + 1 > MAX_CLIP_FRAMES:
        return (f"onset {onset} .. offset {offset} spans {offset - onset + 1} frames, more "
                f"than {MAX_CLIP_FRAMES} (5 s at 200 fps): a typo in the sheet?")
    if not folder.is_dir():
        return f"clip folder {folder} is missing"
    return None


def file_fault(error: Exception) -> str:
    """A clip's fault as one line: the error's text, or for a frame file the process
    may not read (OSError: no permission, an I/O error) 'cannot read FILE: why'."""
    if isinstance(error, OSError) and error.filename:
        return f"cannot read {error.filename}: {error.strerror or error}"
    return str(error)


def check_unique(clips: list[Clip], problems: Problems) -> list[Clip]:
    """Clips with a sample id seen before become problems naming both rows."""
    first, unique = {}, []
    for clip in clips:
        if clip.sample_id in first:
            problems.add(clip.sample_id, clip.where,
                         f"duplicated sample: also at {first[clip.sample_id]}")
        else:
            first[clip.sample_id] = clip.where
            unique.append(clip)
    return unique


def subject_folders_without_clips(folders, problems: Problems) -> None:
    """A subject folder holding no clip folder is a problem (a half-copied database)."""
    for folder in folders:
        if folder.is_dir() and not any(p.is_dir() for p in folder.iterdir()):
            problems.add(folder.name, str(folder), "subject folder has no clips")


@dataclasses.dataclass
class _Faces:
    clip: Clip
    label: str
    faces: clip_record.ClipFaces  # onset and apex crops for the flow, the stored faces


class ManualBuilder:
    """What a builder reading a licensed database's files has: ``on_error`` and the
    problems found, and ``from_fields`` making its ``CONFIG`` from plain fields."""

    CONFIG = None  # the BuilderConfig class, with ``named(**fields)``

    def __init__(self, *, on_error: str = "raise", **kwargs):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.on_error = on_error
        self.problems: list = []
        super().__init__(**kwargs)

    @classmethod
    def from_fields(cls, data_dir: str, on_error: str = "raise", **fields):
        """The builder for these config fields (a registered config or a custom one)."""
        config = cls.CONFIG.named(**fields)
        registered = {c.name for c in cls.BUILDER_CONFIGS}
        return cls(config=config.name if config.name in registered else config,
                   data_dir=data_dir, file_format="array_record", on_error=on_error)


class MEDatabaseBuilder(ManualBuilder, LocalBuilder, skip_registration=True):
    """Base of the database builders; subclasses set the class attributes below
    and implement ``list_clips``."""

    DATABASE: str = ""              # short name, written to every record's ``dataset``
    NATIVE_CLASSES: tuple = ()      # the database's own emotion labels, lower case
    CLASS_MAPS: dict = {}           # class set -> {native emotion: class}
    CLASS_NAMES: dict = {}          # class set -> class names in label order
    HAS_ACTION_UNITS: bool = False  # the sheet codes FACS AUs: records get ``au``
    VERSION, RELEASE_NOTES = BASE_VERSION, BASE_RELEASE_NOTES
    BUILDER_CONFIGS = DEFAULT_CONFIGS

    CONFIG = MEConfig

    def __init__(self, *, on_error: str = "raise", **kwargs):
        self.excluded: dict[str, int] = {}
        super().__init__(on_error=on_error, **kwargs)

    @classmethod
    @abc.abstractmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        """Every clip the database annotates; sheet-level faults raise BadInputError,
        per-sample faults go to ``problems``."""

    # ---------------------------------------------------------------- TFDS API

    def class_names(self) -> tuple:
        classes = self.builder_config.classes
        if classes == "native":
            return self.NATIVE_CLASSES
        if classes not in self.CLASS_NAMES:
            raise ValueError(f"{self.DATABASE}: class set {classes!r} is not defined; "
                             f"choose from {('native', *self.CLASS_NAMES)}")
        return self.CLASS_NAMES[classes]

    def _info(self) -> tfds.core.DatasetInfo:
        c = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=me_features(c.flow_size, c.face_size, self.class_names(), with_onset=True,
                                 with_frame_numbers=True, channels=3 if c.face_color else 1,
                                 with_au=self.HAS_ACTION_UNITS, jitter_frames=c.jitter_frames,
                                 clip_frames=c.clip_frames),
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        source_fingerprint.record(self, dl_manager.manual_dir)
        return {"train": self._generate_examples(pathlib.Path(dl_manager.manual_dir))}

    def _generate_examples(self, manual_dir: pathlib.Path):
        records = self.build_records(manual_dir)
        for record in records:
            yield record["sample_id"], record

    # ----------------------------------------------------------------- chain

    def labelled_clips(self, manual_dir: pathlib.Path, problems: Problems) -> list[tuple]:
        """(clip, class name) for every clip in the config's class set."""
        out = []
        for clip in self.list_clips(manual_dir, problems):
            label = self.map_emotion(clip, type(self), self.builder_config.classes, problems)
            if label is not None:
                out.append((clip, label))
        return out

    def map_emotion(self, clip: Clip, source, classes: str, problems: Problems) -> str | None:
        """The class of ``clip``'s emotion in class set ``classes`` of ``source`` (the
        builder class of the clip's database), or None: an unknown emotion is a
        problem, one outside the class set is counted in ``excluded`` (keyed
        '<database>:<emotion>' for clips of merged databases)."""
        emotion = clip.emotion.strip().lower()
        if emotion not in source.NATIVE_CLASSES:
            problems.add(clip.sample_id, clip.where,
                         f"unknown emotion {clip.emotion!r}; {source.DATABASE} knows "
                         f"{list(source.NATIVE_CLASSES)}")
            return None
        mapping = ({e: e for e in source.NATIVE_CLASSES} if classes == "native"
                   else source.CLASS_MAPS[classes])
        if emotion not in mapping:
            key = f"{clip.database}:{emotion}" if clip.database else emotion
            self.excluded[key] = self.excluded.get(key, 0) + 1
            return None
        return mapping[emotion]

    def _faces(self, clip: Clip, label: str) -> _Faces:
        """Steps 1-4 of ``clip_record`` for one clip, its frames read from its files."""
        if not clip.frames:
            raise frames.FrameError(f"no frame files in {clip.folder or 'the clip folder'}")
        read = lambda n, color: frames.read_frame(clip.frames[n], color)
        check = lambda numbers, what: check_frames(clip, numbers, what)
        return _Faces(clip, label, clip_record.clip_faces(
            read, clip.onset, clip.apex, clip.offset, self.builder_config, clip.cropped, check))

    def _action_units(self, clip: Clip) -> np.ndarray:
        """The clip's (21,) multi-hot AU vector; an unparseable cell is a ClipError."""
        try:
            return action_units.multi_hot(clip.action_units or "")
        except action_units.ActionUnitError as e:
            raise ClipError(str(e)) from e

    def build_records(self, manual_dir: pathlib.Path) -> list[dict]:
        """Every record, or BadInputError listing every problem (on_error='raise')."""
        c = self.builder_config
        problems = Problems()
        faces = []
        for clip, label in self.labelled_clips(manual_dir, problems):
            try:
                au = self._action_units(clip) if self.HAS_ACTION_UNITS else None
                found = self._faces(clip, label)
            except (frames.FrameError, face.FaceNotFound, ClipError, OSError) as e:
                problems.add(clip.sample_id, clip.where, file_fault(e))
                continue
            if au is not None:
                found.faces.stored["au"] = au
            faces.append(found)
        self.problems = list(problems)
        if problems and self.on_error == "raise":
            listing = "\n  ".join(str(p) for p in problems[:50])
            more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
            raise BadInputError(
                f"{self.DATABASE}: {len(problems)} problem(s) in {manual_dir} (nothing was "
                f"written; pass on_error='skip' to leave these samples out):\n  {listing}{more}")
        if not faces:
            raise BadInputError(f"{self.DATABASE}: no usable samples in {manual_dir}")
        for p in problems:
            logging.warning("%s: skipped %s", self.DATABASE, p)
        self.info.metadata.update(
            skipped=[str(p) for p in problems], excluded_emotions=dict(self.excluded),
            face_chain=face_chain(c, sum(f.faces.whole_box for f in faces), len(faces)),
            flow_units="pixels per onset-apex interval" if c.flow_norm == "raw"
            else "per-sample per-channel min-max 0..1")
        fields = clip_record.records([f.faces for f in faces], self.builder_config)
        return [{
            **record,
            "label": f.label,
            "subject": f.clip.subject,
            "dataset": f.clip.database or self.DATABASE,
            "sample_id": f.clip.sample_id,
            "onset_frame": f.clip.onset,
            "apex_frame": f.faces.apex_frame,
            "offset_frame": f.clip.offset,
        } for f, record in zip(faces, fields)]
