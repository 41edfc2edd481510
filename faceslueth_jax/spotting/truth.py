"""A long video's true intervals, read from the files users have:

  * a JSON list of intervals ``{"onset", "offset", "kind"[, "apex", "label"]}``;
  * a JSON object holding that list under ``"intervals"`` or ``"events"`` (the second
    is what ``tfds_builders.synthetic_me.write_long_video`` writes beside a video);
  * a CSV whose header names the columns ``onset``, ``offset`` and ``kind`` (any order,
    any case; ``apex`` and ``label`` optional, other columns ignored), one interval a
    row (blank rows skipped).

Frames count from 0, both ends inclusive; ``kind`` is 'micro' or 'macro'; ``apex``,
where given, lies in onset..offset (-1 or absent: not known); ``label`` is a class
index (-1 or absent: none). A file is JSON when its name ends in .json, a CSV when it
ends in .csv, otherwise JSON when its first character is '[' or '{'. Anything else is
a ``TruthError`` whose one line names the file and, for a bad interval, its entry
(JSON, from 0) or line (CSV, from 1). ``read_truth`` returns the ``Interval``s that
spotting scores (``evaluation.spotting_metrics``) and the timeline draw.
"""

from __future__ import annotations

import csv
import io
import json
import pathlib

from faceslueth_jax.evaluation.spotting_metrics import TYPES, Interval

COLUMNS = ("onset", "offset", "kind")  # required; "apex" and "label" optional
LIST_KEYS = ("intervals", "events")
SHAPES = ("a JSON list of {onset, offset, kind}, a JSON object holding that list under "
          "'intervals' or 'events', or a CSV with the header onset,offset,kind")


class TruthError(ValueError):
    """A true-intervals file that cannot be used; one line naming the file."""


def read_truth(path) -> list[Interval]:
    """The true intervals in the file at ``path`` (see the module docstring), in the
    file's order; TruthError naming the file (and the entry or line) otherwise."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise TruthError(f"cannot read the true intervals {path}: "
                         f"{getattr(e, 'strerror', None) or e}") from None
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{")):
        return _from_json(path, text)
    return _from_csv(path, text)


def _from_json(path: pathlib.Path, text: str) -> list[Interval]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise TruthError(f"{path}: not JSON ({e}); the true intervals are {SHAPES}") from None
    if isinstance(data, dict):
        keys = [k for k in LIST_KEYS if k in data]
        if not keys:
            raise TruthError(f"{path}: a JSON object without 'intervals' or 'events' (it has "
                             f"{', '.join(map(repr, data)) or 'no keys'}); the true intervals "
                             f"are {SHAPES}")
        if len(keys) > 1:
            raise TruthError(f"{path}: a JSON object with both 'intervals' and 'events'; "
                             "give the true intervals under one of them")
        data = data[keys[0]]
        if not isinstance(data, list):
            raise TruthError(f"{path}: '{keys[0]}' is not a list of intervals "
                             f"{{onset, offset, kind}}")
    elif not isinstance(data, list):
        raise TruthError(f"{path}: a JSON {type(data).__name__}, not a list of intervals; "
                         f"the true intervals are {SHAPES}")
    out = []
    for n, entry in enumerate(data):
        where = f"{path}: entry {n}"
        if not isinstance(entry, dict):
            raise TruthError(f"{where}: {entry!r:.40} is not an interval {{onset, offset, kind}}")
        out.append(_interval(where, {k: entry.get(k) for k in (*COLUMNS, "apex", "label")}))
    return out


def _from_csv(path: pathlib.Path, text: str) -> list[Interval]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise TruthError(f"{path}: not a CSV ({e}); the true intervals are {SHAPES}") from None
    header = [c.strip().lower() for c in rows[0]] if rows else []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TruthError(f"{path}: line 1 must be a header naming the columns "
                         f"{','.join(COLUMNS)} (missing: {', '.join(missing)}); the true "
                         f"intervals are {SHAPES}")
    at = {name: header.index(name) for name in (*COLUMNS, "apex", "label") if name in header}
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: row[i].strip() if i < len(row) else None for name, i in at.items()}
        cells = {name: (None if cell == "" and name not in COLUMNS else cell)
                 for name, cell in cells.items()}
        out.append(_interval(f"{path}, line {line}", cells))
    return out


def _integer(where: str, name: str, value, least: int = 0,
             what: str = "a frame index") -> int:
    """``value`` (a JSON number or a CSV cell) as an integer >= ``least``."""
    number = None
    if isinstance(value, str):
        text = value.strip()
        number = int(text) if text.lstrip("-").isdigit() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or number < least:
        shown = repr(value) if isinstance(value, str) else value
        raise TruthError(f"{where}: {name} {shown} is not {what} (an integer from {least})")
    return number


def _interval(where: str, cells: dict) -> Interval:
    """The interval of one entry or row: ``cells`` column -> JSON value or CSV text
    (None where absent)."""
    for name in COLUMNS:
        if cells.get(name) is None or cells[name] == "":
            raise TruthError(f"{where}: no {name} (an interval is {{onset, offset, kind}})")
    onset = _integer(where, "onset", cells["onset"])
    offset = _integer(where, "offset", cells["offset"])
    if offset < onset:
        raise TruthError(f"{where}: offset {offset} before the onset {onset}")
    kind = cells["kind"]
    if not isinstance(kind, str) or kind.strip().lower() not in TYPES:
        raise TruthError(f"{where}: kind {kind!r} is not one of {', '.join(TYPES)}")
    apex = -1 if cells.get("apex") is None else _integer(where, "apex", cells["apex"], -1)
    if apex != -1 and not onset <= apex <= offset:
        raise TruthError(f"{where}: apex {apex} outside {onset}..{offset} (onset..offset)")
    label = -1 if cells.get("label") is None else _integer(where, "label", cells["label"], -1,
                                                           "a class index")
    return Interval(onset, offset, kind.strip().lower(), label=label, apex=apex)
