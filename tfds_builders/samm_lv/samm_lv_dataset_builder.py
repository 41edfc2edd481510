"""TFDS builder: SAMM Long Videos (Yap et al. 2020) for spotting: the long videos of
SAMM's subjects with their coded micro- and macro-movements, 200 fps.

manual_dir holds, as the database is released:
  SAMM_LongVideos_V1_Release.xlsx   worksheet FACS_Movement_Only, whose column header
                                    is row 10 (rows 1-9 are notes; the public loaders
                                    skip them): Subject, Filename, Inducement Code,
                                    Onset, Apex, Offset, Duration, Type, Action Units,
                                    Notes
  SAMM_longvideos/006_1/006_1_0001.jpg ...   every frame of each long video
                                             (numbered from 1, zero-padded)

One record per video folder (SAMM_longvideos/<video id>), coded movements or not: a
video without any is kept, as spotting must see its false positives. A row's video is
the start of its Filename (006_1 of 006_1_2: subject 006, video 1). Type is
'Micro - 1/2' or 'Macro' (read by its prefix, any case). Onset, apex and offset are
frame numbers of the video (the trailing number of the file names); a record's event
indices are these numbers minus the video's first frame number. An apex of -1 or 0
(not coded) is the midpoint of onset and offset (rounded down); an offset of 0 is the
apex. A Macro row with onset 0 is left out, as the public loaders leave it out (the
sheet's way of coding a movement whose start it does not give); those rows are listed
in the metadata (``dropped_rows``). Any other event must lie within its video's frames:
a public loader notes two rows whose offset passes the last frame (020_6_5, 036_7_4),
which are problems like any other (``on_error='skip'`` leaves 020_6 and 036_7 out).

Records: video_id the video folder (006_1), subject its 3-digit subject (006). SAMM
Long Videos codes no emotion: every label is -1 (no class set maps a movement).
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import long_video, sheets
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.long_video import Event, LongVideoBuilder, Video, consecutive_frames
from tfds_builders.me_database import Problems

SHEET = "SAMM_LongVideos_V1_Release.xlsx"
WORKSHEET = "FACS_Movement_Only"
HEADER_ROW = 10  # the column header's row (1-based), as the public loaders read the sheet
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "Type")
FRAMES = "SAMM_longvideos"
FPS = 200.0


def read_rows(path: pathlib.Path, database: str) -> list[dict]:
    """The rows of worksheet WORKSHEET below HEADER_ROW (``sheets.read_sheet``)."""
    return sheets.read_sheet(path, database, COLUMNS, HEADER_ROW, worksheet=WORKSHEET)


def dropped(row: dict) -> bool:
    """Whether the rule above leaves the row out: a Macro row with onset 0."""
    return long_video.kind_of(row["Type"]) == "macro" and sheets.cell_int(row["Onset"]) == 0


def sheet_rows(manual_dir: pathlib.Path, database: str) -> tuple[list[dict], list[str]]:
    """(the sheet's rows that code a movement, '<file> row <n>: <Filename>' of the rows
    ``dropped`` leaves out)."""
    path = manual_dir / SHEET
    if not path.is_file():
        raise BadInputError(f"{database}: {path} not found")
    rows = read_rows(path, database)
    return ([r for r in rows if not dropped(r)],
            [f"{r['where']}: {sheets.cell_text(r['Filename'])}: Macro with onset 0"
             for r in rows if dropped(r)])


class SammLv(LongVideoBuilder):
    """SAMM long videos with coded micro- and macro-movements -> spotting records."""

    DATABASE = "samm_lv"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "SAMM Long Videos are licensed: request them from Manchester Metropolitan University "
        "(http://www2.docm.mmu.ac.uk/STAFF/M.Yap/dataset.php). Pass as manual_dir the folder "
        "holding SAMM_LongVideos_V1_Release.xlsx and SAMM_longvideos/006_1/006_1_0001.jpg ...")
    NATIVE_CLASSES = ()  # the sheet codes no emotion
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {}}  # every event's label is -1

    @classmethod
    def list_videos(cls, manual_dir: pathlib.Path, problems: Problems) -> list:
        rows, _ = sheet_rows(manual_dir, cls.DATABASE)
        root = manual_dir / FRAMES
        if not root.is_dir():
            raise BadInputError(f"{cls.DATABASE}: frame folder {root} not found")
        videos, firsts = {}, {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            video_id = folder.name
            numbered = frames.numbered_frames(folder, f"{video_id}_")
            files = consecutive_frames(numbered, video_id, folder, problems)
            if not files:
                continue
            video = Video(video_id=video_id, subject=video_id.split("_")[0], fps=FPS,
                          frames=files, events=[], where=str(folder))
            if long_video.streamable(video, problems):
                videos[video_id], firsts[video_id] = video, min(numbered)
        for row in rows:
            filename = sheets.cell_text(row["Filename"])
            parts = filename.split("_")
            video_id = "_".join(parts[:2])
            if sheets.outside_name(filename):
                problems.add(filename, row["where"], f"Filename {filename!r} leads outside the "
                             "database's folder (an absolute path or '..')")
                continue
            if len(parts) < 2 or not all(parts[:2]):
                problems.add(filename or "?", row["where"], f"Filename {filename!r} does not "
                             "start with a video id <subject>_<video> (006_1)")
                continue
            if video_id not in videos:
                if not (root / video_id).is_dir():  # else its folder's problem is listed
                    problems.add(video_id, row["where"], f"video folder {root / video_id} "
                                 f"(of Filename {filename!r}) is missing")
                continue
            event = cls._event(videos[video_id], firsts[video_id], row, problems)
            if event is not None:
                videos[video_id].events.append(event)
        for video in videos.values():
            video.events.sort(key=lambda e: (e.onset, e.offset))
        return list(videos.values())

    @classmethod
    def _event(cls, video: Video, first: int, row: dict, problems: Problems) -> Event | None:
        """The row's event in frame indices of ``video`` (first frame number ``first``),
        or None with its fault in ``problems``."""
        where = row["where"]
        fault = sheets.number_fault({c: row[c] for c in ("Onset", "Apex", "Offset")})
        if fault:
            problems.add(video.video_id, where, fault)
            return None
        onset, apex, offset = (sheets.cell_int(row[c]) for c in ("Onset", "Apex", "Offset"))
        if onset is None or apex is None or offset is None:
            problems.add(video.video_id, where, "Onset, Apex or Offset is not a number")
            return None
        if apex <= 0 and offset <= 0:
            problems.add(video.video_id, where, f"onset {onset}, apex {apex}, offset {offset}: "
                         "neither apex nor offset coded")
            return None
        offset = offset or apex
        apex = apex if apex > 0 else (onset + offset) // 2
        if not long_video.ordered(video, first, (onset, apex, offset), where, problems):
            return None
        kind = long_video.kind_of(row["Type"])
        if kind is None:
            problems.add(video.video_id, where, f"Type {sheets.cell_text(row['Type'])!r} is "
                         "neither Micro nor Macro")
            return None
        return Event(onset=onset - first, apex=apex - first, offset=offset - first, kind=kind,
                     emotion="", where=where)

    def _split_generators(self, dl_manager):
        splits = super()._split_generators(dl_manager)
        _, dropped_rows = sheet_rows(pathlib.Path(dl_manager.manual_dir), self.DATABASE)
        self.info.metadata.update(dropped_rows=dropped_rows)
        return splits
