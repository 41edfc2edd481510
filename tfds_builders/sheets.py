"""Reading a database's annotation sheet (.xlsx) into validated rows."""

from __future__ import annotations

import pathlib

import openpyxl

from tfds_builders.errors import BadInputError


def cell_text(value) -> str:
    """A cell as text: None -> '', 46.0 -> '46', strings stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def outside_name(name: str) -> bool:
    """Whether a name from a sheet would reach outside the folder it is joined to
    (an absolute path, a drive, or a '..' part)."""
    path = pathlib.PurePosixPath(str(name).replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in str(name)


def cell_int(value) -> int | None:
    """A frame-number cell as int, or None when it is empty or not a number ('/', '-')."""
    text = cell_text(value)
    try:
        return int(float(text))
    except ValueError:
        return None


def read_sheet(path: pathlib.Path, database: str, required: tuple[str, ...],
               header_row: int = 1, worksheet: str | None = None) -> list[dict]:
    """The rows of the first worksheet (or the one named ``worksheet``) below
    ``header_row`` (1-based), as dicts keyed by header text, each with ``where`` =
    '<file> row <n>'. Rows with no value in any required column are skipped (trailing
    blank lines)."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several types for damaged files
        raise BadInputError(f"{database}: cannot read sheet {path}: {e}") from e
    try:
        if worksheet is not None and worksheet not in workbook.sheetnames:
            raise BadInputError(f"{database}: {path.name} has no worksheet {worksheet!r}; "
                                f"found {workbook.sheetnames}")
        chosen = workbook[worksheet] if worksheet is not None else workbook.worksheets[0]
        rows = list(chosen.iter_rows(values_only=True))
    finally:
        workbook.close()
    if len(rows) < header_row:
        raise BadInputError(f"{database}: {path} has no header on row {header_row}")
    header = [cell_text(v) for v in rows[header_row - 1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise BadInputError(
            f"{database}: {path.name} row {header_row} (the header): missing column(s) "
            f"{missing}; found {[h for h in header if h]}")
    out = []
    for number, values in enumerate(rows[header_row:], start=header_row + 1):
        row = dict(zip(header, values))
        if all(cell_text(row.get(c)) == "" for c in required):
            continue
        row["where"] = f"{path.name} row {number}"
        out.append(row)
    return out


def find_one(folder: pathlib.Path, pattern: str, database: str) -> pathlib.Path:
    """The single file in ``folder`` matching ``pattern``; an error names what was found."""
    found = sorted(pathlib.Path(folder).glob(pattern))
    if len(found) != 1:
        raise BadInputError(
            f"{database}: expected one {pattern} in {folder}, found "
            f"{[p.name for p in found] or 'none'}")
    return found[0]


def read_worksheets(path: pathlib.Path, database: str, count: int) -> list[list[tuple]]:
    """The first ``count`` worksheets of a workbook without header rows: per sheet, its
    rows as (row number, values), blank rows left out."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several types for damaged files
        raise BadInputError(f"{database}: cannot read sheet {path}: {e}") from e
    try:
        if len(workbook.worksheets) < count:
            raise BadInputError(f"{database}: {path.name} has {len(workbook.worksheets)} "
                                f"worksheet(s), expected {count}: {workbook.sheetnames}")
        return [[(number, values) for number, values in
                 enumerate(sheet.iter_rows(values_only=True), start=1)
                 if any(cell_text(v) for v in values)]
                for sheet in workbook.worksheets[:count]]
    finally:
        workbook.close()


def sheet_and_frames(manual_dir: pathlib.Path, sheet_name: str, frames_name: str,
                     database: str, required: tuple[str, ...], header_row: int = 1):
    """(the sheet's rows, the frame folder) of a database whose manual_dir holds one
    coding sheet and one frame folder; BadInputError naming whichever is missing."""
    sheet = manual_dir / sheet_name
    if not sheet.is_file():
        raise BadInputError(f"{database}: {sheet} not found")
    rows = read_sheet(sheet, database, required, header_row=header_row)
    frames = manual_dir / frames_name
    if not frames.is_dir():
        raise BadInputError(f"{database}: frame folder {frames} not found")
    return rows, frames
