"""Rules over the whole tree: the package is installed, so nothing edits sys.path; and
user-facing text speaks of the project, not of its work history (no issue numbers)."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

HISTORY = re.compile(r"\bissues? #?\d+", re.IGNORECASE)


def _tracked(*suffixes: str) -> list:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / n for n in names if n.endswith(suffixes) and not n.startswith("bench/runs/")
            and (REPO / n).is_file()]


def test_nothing_edits_sys_path():
    offenders = [str(p.relative_to(REPO)) for p in _tracked(".py")
                 if p.name != "test_tree.py" and re.search(r"sys\.path\.(insert|append)\(",
                                                           p.read_text())]
    assert not offenders, f"sys.path edited in {offenders}: the package is installed"


def test_no_issue_numbers_in_the_tree():
    found = [f"{p.relative_to(REPO)}:{i}" for p in _tracked(".py", ".md", ".sh", ".txt", ".toml")
             if p.name != "test_tree.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert not found, f"work history in user text: {found}"


def test_the_longest_first_order_names_test_files_that_exist():
    from tests.conftest import LONGEST_FIRST, REPO
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    missing = [name for name in LONGEST_FIRST if not (REPO / "tests" / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names absent files: {missing}"
