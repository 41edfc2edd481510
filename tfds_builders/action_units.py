"""A coding sheet's "Action Units" cell -> the 21-dim multi-hot FACS vector.

The order is the PyTorch reference's (its AU_info_obj.xlsx columns):

    AU  1  2  4  5  6  7  9 10 12 14 15 16 17 18 20 23 24 25 26 28 45

au[i] = 1 when the cell codes AU ``AU_ORDER[i]``, else 0; AU numbers outside
the 21 (e.g. 38, 39, 43) are ignored.

Grammar of a cell, as the CASME II, SAMM and CAS(ME)^3 sheets write it
('4+7', 'R12', 'L1+L2', '1+2+25', 'R14A', 'A12B+7C', '(R6 or R12)+R15'):

  cell  = code ('+' code)*          (',' also separates codes)
  code  = 'ref(' code ')' | '(' code ')' | code ' or ' code | AU
  AU    = ['AU'] [side ['/' side]] number [intensity ['/' intensity]] ['?']
  side  = L | R | B | T | U | A     (left, right, bilateral or bottom, top,
                                     unilateral, asymmetric: SAMM's key)
  intensity = A..E

Alternatives ('X or Y', SAMM's '/' between sides or intensities) mark every
AU they name: the coder saw one of them. SAMM's 'ref(X)' (not in its key)
marks X. A part with no digit that is not a code missing its number ('L',
'AU') is a descriptor, not an AU ('soft focus', a gaze note in SAMM), and is
ignored. An empty cell or any other part is an ``ActionUnitError`` naming it.
"""

from __future__ import annotations

import re

import numpy as np

AU_ORDER = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 18, 20, 23, 24, 25, 26, 28, 45)
AU_DIM = len(AU_ORDER)

_AU = re.compile(r"^(?:AU)?(?:[LRBTUA](?:/[LRBTUA])?)?(\d+)(?:[A-E](?:/[A-E])?)?\??$",
                 re.IGNORECASE)
_FRAGMENT = re.compile(r"^(?:AU)?[LRBTUA/]*$", re.IGNORECASE)  # a code without its number
_WRAPPED = re.compile(r"^(?:ref)?\((.*)\)$", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)


class ActionUnitError(ValueError):
    """An Action Units cell that is not a list of FACS codes; the message quotes it."""


def _numbers(part: str, cell: str) -> list[int]:
    """The AU numbers one '+'-separated part names (several for alternatives)."""
    part = part.strip()
    wrapped = _WRAPPED.match(part)
    if wrapped:
        return _numbers(wrapped[1], cell)
    alternatives = _OR.split(part)
    if len(alternatives) > 1:
        return [n for a in alternatives for n in _numbers(a, cell)]
    match = _AU.match(part.replace(" ", ""))
    if match:
        return [int(match[1])]
    if not any(ch.isdigit() for ch in part) and not _FRAGMENT.match(part.replace(" ", "")):
        return []  # a descriptor such as 'soft focus', not an action unit
    raise ActionUnitError(f"Action Units cell {cell!r}: {part!r} is not a FACS code "
                          f"(expected e.g. 4, R12, L1, 14A, AU4)")


def parse(cell: str) -> list[int]:
    """Every AU number the cell names, in order (numbers outside AU_ORDER included)."""
    text = str(cell).strip()
    if not text:
        raise ActionUnitError("Action Units cell is empty")
    return [n for part in re.split(r"[+,]", text) for n in _numbers(part, text)]


def multi_hot(cell: str) -> np.ndarray:
    """(21,) float32: 1 at the AUs of ``AU_ORDER`` the cell names, 0 elsewhere."""
    named = set(parse(cell))
    return np.array([n in named for n in AU_ORDER], np.float32)
