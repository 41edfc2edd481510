"""Reading a database's annotation sheet (.xlsx) into validated rows.

A cell holds what Excel last computed (openpyxl's ``data_only``); a formula Excel
never computed (openpyxl reads it as None, like an empty cell) is kept as its text
('=1/0'), so that a frame-number cell holding it is a problem of its row
(``number_fault``), not a frame the sheet does not give.
"""

from __future__ import annotations

import itertools
import math
import numbers
import pathlib

import openpyxl
import openpyxl.cell.cell

from tfds_builders.errors import BadInputError

# what the sheets write in a frame-number cell for a frame they do not give
NOT_CODED = frozenset({"", "/", "-"})
# what a cell holds when its formula failed (openpyxl's, and newer Excel's)
ERROR_CODES = frozenset(openpyxl.cell.cell.ERROR_CODES) | {
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
    "#GETTING_DATA"}


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


def _whole(value) -> tuple[int | None, str | None]:
    """(the cell as int, None), or (None, why it is no finite whole number); (None, None)
    for an empty or not-coded cell (NOT_CODED)."""
    if value is None:
        return None, None
    shown = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        return None, f"{shown} is not a number"
    if isinstance(value, numbers.Integral):
        return int(value), None
    text = cell_text(value)
    if isinstance(value, str):
        if text in NOT_CODED:
            return None, None
        if text.startswith("="):
            return None, f"{shown} is a formula with no computed value, not a frame number"
        if text in ERROR_CODES:
            return None, (f"{shown} is a spreadsheet error (a formula that failed), not a "
                          "frame number")
        try:
            number = float(text)
        except ValueError:
            return None, f"{shown} is not a number"
    else:
        number = float(value)
    if not math.isfinite(number):
        return None, f"{shown} is not a finite number"
    if not number.is_integer():
        return None, f"{shown} is not a whole number (frames are numbered 1, 2, ...)"
    return int(number), None


def cell_int(value) -> int | None:
    """A frame-number cell as int, or None when it is empty, not coded ('/', '-') or not
    a finite whole number (never truncated: 12.5 is None; ``number_fault`` says why)."""
    return _whole(value)[0]


def number_fault(cells: dict) -> str | None:
    """Why one of ``cells`` ({column name: value}, frame-number cells of one row) is
    neither empty, nor not coded (NOT_CODED), nor a finite whole number: e.g.
    "OffsetFrame '=1/0' is a formula with no computed value, not a frame number",
    "ApexFrame 12.5 is not a whole number (...)"; None when every cell is usable."""
    for column, value in cells.items():
        why = _whole(value)[1]
        if why:
            return f"{column} {why}"
    return None


def read_sheet(path: pathlib.Path, database: str, required: tuple[str, ...],
               header_row: int = 1, worksheet: str | None = None) -> list[dict]:
    """The rows of the first worksheet (or the one named ``worksheet``) below
    ``header_row`` (1-based), as dicts keyed by header text, each with ``where`` =
    '<file> row <n>'. Rows with no value in any required column are skipped (trailing
    blank lines)."""
    def choose(workbook):
        if worksheet is not None and worksheet not in workbook.sheetnames:
            raise BadInputError(f"{database}: {path.name} has no worksheet {worksheet!r}; "
                                f"found {workbook.sheetnames}")
        return [worksheet if worksheet is not None else workbook.sheetnames[0]]

    (rows,) = _worksheet_rows(path, database, choose)
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
    def choose(workbook):
        if len(workbook.worksheets) < count:
            raise BadInputError(f"{database}: {path.name} has {len(workbook.worksheets)} "
                                f"worksheet(s), expected {count}: {workbook.sheetnames}")
        return workbook.sheetnames[:count]

    return [[(number, values) for number, values in enumerate(rows, start=1)
             if any(cell_text(v) for v in values)]
            for rows in _worksheet_rows(path, database, choose)]


def _load(path: pathlib.Path, database: str, data_only: bool):
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as e:  # openpyxl raises several types for damaged files
        raise BadInputError(f"{database}: cannot read sheet {path}: {e}") from e


def _rows(workbook, name: str) -> list[tuple]:
    return list(workbook[name].iter_rows(values_only=True))


def _worksheet_rows(path: pathlib.Path, database: str, choose) -> list[list[tuple]]:
    """Per worksheet named by ``choose(workbook)`` (which raises BadInputError for a
    workbook without them), its rows of cell values: what Excel last computed, and for
    a formula with no computed value (None to openpyxl's data_only) its text ('=1/0')."""
    workbook = _load(path, database, data_only=True)
    try:
        names = choose(workbook)
        values = [_rows(workbook, name) for name in names]
    finally:
        workbook.close()
    if not any(v is None for rows in values for row in rows for v in row):
        return [[tuple(row) for row in rows] for rows in values]
    workbook = _load(path, database, data_only=False)  # the formulas behind the Nones
    try:
        formulas = [_rows(workbook, name) for name in names]
    finally:
        workbook.close()
    return [[tuple(_computed(v, f) for v, f in itertools.zip_longest(row, formula_row))
             for row, formula_row in itertools.zip_longest(rows, sheet_formulas, fillvalue=())]
            for rows, sheet_formulas in zip(values, formulas)]


def _computed(value, formula):
    """A cell's computed value, or the text of a formula that has none."""
    if value is not None or formula is None:
        return value
    text = getattr(formula, "text", formula)  # ArrayFormula / DataTableFormula: .text
    return text if isinstance(text, str) and text.startswith("=") else value


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
