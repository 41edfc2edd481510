"""TFDS builder: CAS(ME)^2's long videos (Qu et al., IEEE TAC 2018) for spotting: 22
subjects' long videos with their coded micro- and macro-expressions, 30 fps.

manual_dir holds, as the database is released:
  CAS(ME)^2code_final.xlsx (or CAS(ME)^2code_final(Updated).xlsx), three worksheets
  without header rows, read by position:
    1 (CASFEcode_final; CASMEcode_final in some releases): participant id, expression
      name (disgust1_1), onset, apex, offset, action units, emotion (positive,
      negative, surprise, others), type (micro-expression | macro-expression),
      self-reported emotion
    2 (naming rule1): folder number (15), subject folder (s15), participant id (the
      coding sheet's first column), as the public loaders read it
    3 (naming rule2): video code (0101, read as 4 digits), video name (disgust1)
  rawpic/s15/15_0101disgustingteeth/img1.jpg ...  every frame of each long video

One record per video folder (rawpic/<subject>/<folder>), coded expressions or not: a
video without any is kept, as spotting must see its false positives. A coding row
names its video by the expression name's part before '_' (disgust1 of disgust1_1),
whose naming-rule2 code is the 4 characters after the '_' of the video folder's name
(15_0101disgustingteeth), in the folder of its participant: the naming-rule1 subject
folder of the participant id, or, where naming rule1 does not list it, rawpic/s<NN>
when the id is already the folder number (15 -> s15). Onset, apex and offset are frame
numbers of the video (the N of imgN.jpg; img1.jpg and img001.jpg alike); a record's
event indices are these numbers minus the video's first frame number. The sheet codes
an unknown offset or apex as 0: such an offset is the apex, such an apex the midpoint
of onset and offset (rounded down).

Records: video_id the video folder (15_0101disgustingteeth), subject the subject
folder (s15). Class sets: 'native' the sheet's emotion; 'megc3' negative, positive,
surprise ('others' is -1, outside the set).
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import long_video, sheets
from tfds_builders.errors import BadInputError
from tfds_builders.casme2me import Casme2me
from tfds_builders.long_video import Event, LongVideoBuilder, Video, consecutive_frames
from tfds_builders.me_database import Problems

SHEET_GLOB = "CAS(ME)^2code_final*.xlsx"
FRAMES = "rawpic"
FRAME_PREFIX = "img"
FPS = 30.0


def naming_rules(rule1: list, rule2: list, sheet_name: str) -> tuple[dict, dict]:
    """({participant id: [candidate subject folders]}, {video name: 4-digit code}).
    Rows that do not read as the layout above are passed over (a header row, a note);
    naming rule2 must give at least one code."""
    subjects, videos = {}, {}
    for _, values in rule1:
        number, folder, participant = (list(values) + [None] * 3)[:3]
        participant = sheets.cell_int(participant)
        if participant is None:
            continue
        candidates = [sheets.cell_text(folder)] if sheets.cell_text(folder) else []
        if sheets.cell_int(number) is not None:
            candidates.append(f"s{sheets.cell_int(number):02d}")
        subjects[participant] = [c for c in candidates if not sheets.outside_name(c)]
    for _, values in rule2:
        code, name = (list(values) + [None] * 2)[:2]
        if sheets.cell_int(code) is not None and sheets.cell_text(name):
            videos[sheets.cell_text(name).lower()] = f"{sheets.cell_int(code):04d}"
    if not videos:
        raise BadInputError(f"casme2_lv: {sheet_name} worksheet 3 (naming rule2): no rows of "
                            "video code, video name")
    return subjects, videos


def subject_folder(participant, subjects: dict, root: pathlib.Path) -> str | None:
    """The subject folder of a coding row's participant cell (see the module
    docstring), None when there is none on disk."""
    number = sheets.cell_int(participant)
    if number is None:
        return None
    candidates = subjects.get(number) or [f"s{number:02d}", f"s{number}"]
    return next((c for c in candidates if (root / c).is_dir()), None)


def video_code(folder_name: str) -> str | None:
    """The naming-rule2 code of a video folder (15_0101disgustingteeth -> '0101')."""
    _, sep, rest = folder_name.partition("_")
    return rest[:4] if sep and len(rest) >= 4 else None


class Casme2Lv(LongVideoBuilder):
    """CAS(ME)^2 long videos with coded micro- and macro-expressions -> spotting records."""

    DATABASE = "casme2_lv"
    # the same release as the micro-expression clips' builder reads
    MANUAL_DOWNLOAD_INSTRUCTIONS = Casme2me.MANUAL_DOWNLOAD_INSTRUCTIONS
    NATIVE_CLASSES, CLASS_NAMES, CLASS_MAPS = (Casme2me.NATIVE_CLASSES, Casme2me.CLASS_NAMES,
                                               Casme2me.CLASS_MAPS)

    @classmethod
    def list_videos(cls, manual_dir: pathlib.Path, problems: Problems) -> list:
        sheet = sheets.find_one(manual_dir, SHEET_GLOB, cls.DATABASE)
        main, rule1, rule2 = sheets.read_worksheets(sheet, cls.DATABASE, 3)
        subjects, codes = naming_rules(rule1, rule2, sheet.name)
        root = manual_dir / FRAMES
        if not root.is_dir():
            raise BadInputError(f"{cls.DATABASE}: frame folder {root} not found")
        videos, by_code, firsts = cls._videos(root, problems)
        for number, values in main:
            where = f"{sheet.name} row {number}"
            participant, name, onset, apex, offset, _, emotion, kind, _ = \
                (list(values) + [None] * 9)[:9]
            name = sheets.cell_text(name)
            key = name.split("_")[0].lower()
            row_id = f"{sheets.cell_text(participant)}/{name}"  # until its video is known
            if sheets.outside_name(name) or sheets.outside_name(sheets.cell_text(participant)):
                problems.add(row_id, where, f"participant {participant!r} or expression name "
                             f"{name!r} leads outside the database's folder")
                continue
            subject = subject_folder(participant, subjects, root)
            if subject is None:
                problems.add(row_id, where, f"participant {participant!r}: no subject folder in "
                             f"{root} (naming rule1 gives "
                             f"{subjects.get(sheets.cell_int(participant), 'none')})")
                continue
            if key not in codes:
                problems.add(row_id, where, f"video name {key!r} is not in 'naming rule2'")
                continue
            found = by_code.get((subject, codes[key]), [])
            if len(found) != 1:
                problems.add(row_id, where, f"expected one video folder {root / subject}/*_"
                             f"{codes[key]}* (naming rule2: {key}), found {found or 'none'}")
                continue
            if found[0] not in videos:
                continue  # its folder's problem is listed
            video = videos[found[0]]
            event = cls._event(video, firsts[video.video_id], where, onset, apex, offset, kind,
                               emotion, problems)
            if event is not None:
                video.events.append(event)
        for video in videos.values():
            video.events.sort(key=lambda e: (e.onset, e.offset))
        return list(videos.values())

    @classmethod
    def _videos(cls, root: pathlib.Path, problems: Problems):
        """({video id: Video} of every usable video folder with its frames (no events
        yet), {(subject, code): [video ids]} of every video folder, {video id: first
        frame number})."""
        videos, by_code, firsts, seen = {}, {}, {}, {}
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            folders = sorted(p for p in subject.iterdir() if p.is_dir())
            if not folders:
                problems.add(subject.name, str(subject), "subject folder has no video folders")
            for folder in folders:
                video_id = folder.name
                by_code.setdefault((subject.name, video_code(video_id)), []).append(video_id)
                if video_id in seen:  # both left out: a record's key is its video id
                    problems.add(video_id, str(folder),
                                 f"duplicated video folder: also {seen[video_id]}")
                    continue
                seen[video_id] = folder
                numbered = frames.numbered_frames(folder, FRAME_PREFIX)
                files = consecutive_frames(numbered, video_id, folder, problems)
                if not files:
                    continue
                video = Video(video_id=video_id, subject=subject.name, fps=FPS, frames=files,
                              events=[], where=str(folder))
                if not long_video.streamable(video, problems):
                    continue
                videos[video_id] = video
                firsts[video_id] = min(numbered)
        return videos, by_code, firsts

    @classmethod
    def _event(cls, video: Video, first: int, where: str, onset, apex, offset, kind, emotion,
               problems: Problems) -> Event | None:
        """The row's event in frame indices of ``video`` (first frame number ``first``),
        or None with its fault in ``problems``."""
        fault = sheets.number_fault({"onset": onset, "apex": apex, "offset": offset})
        if fault:
            problems.add(video.video_id, where, fault)
            return None
        onset, apex, offset = (sheets.cell_int(v) for v in (onset, apex, offset))
        if onset is None or apex is None or offset is None:
            problems.add(video.video_id, where, "onset, apex or offset is not a number")
            return None
        if not onset or not (apex or offset):
            problems.add(video.video_id, where, f"onset {onset}, apex {apex}, offset {offset}: "
                         "the onset, or both apex and offset, not coded (0)")
            return None
        offset = offset or apex
        apex = apex or (onset + offset) // 2
        if not long_video.ordered(video, first, (onset, apex, offset), where, problems):
            return None
        event_kind = long_video.kind_of(kind)
        if event_kind is None:
            problems.add(video.video_id, where, f"type {sheets.cell_text(kind)!r} is neither "
                         "micro-expression nor macro-expression")
            return None
        return Event(onset=onset - first, apex=apex - first, offset=offset - first,
                     kind=event_kind, emotion=sheets.cell_text(emotion).lower(), where=where)
