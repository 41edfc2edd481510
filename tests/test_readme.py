"""The README stays a guide and the docs stay linked: README.md under 300 lines, every
benchmark script in bench/ named in bench/README.md, and every relative link in the
README, docs/*.md and the bench READMEs pointing at a file or folder that exists."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README_MAX_LINES = 300

# [text](target) and ![alt](target); a target may carry a "title" after a space.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _documents() -> list[pathlib.Path]:
    docs = [ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "bench" / "runs" / "README.md"]
    docs += sorted((ROOT / "docs").glob("*.md"))
    return [d for d in docs if d.is_file()]


def _links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", "", line)  # inline code is not a link
        found += [(number, m.group(1)) for m in LINK.finditer(line)]
    return found


def _relative(target: str) -> bool:
    return not (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")))


def test_readme_is_under_the_line_limit():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it a guide under {README_MAX_LINES} "
        "lines and move studies and long tables to docs/")


def test_every_bench_script_is_in_the_bench_index():
    index = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in (ROOT / "bench").iterdir()
                     if p.is_file() and p.suffix in (".py", ".sh") and p.name != "__init__.py")
    assert scripts, "no scripts found in bench/"
    missing = [name for name in scripts if not re.search(rf"(?<![\w.]){re.escape(name)}", index)]
    assert not missing, f"bench/README.md does not name: {', '.join(missing)}"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: pathlib.Path):
    broken = []
    for number, target in _links(document.read_text(encoding="utf-8")):
        if not _relative(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not path:
            continue
        if not (document.parent / path).exists():
            broken.append(f"{document.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_the_link_check_finds_links():
    text = ("see [a](docs/a.md#part) and ![b](../b.png \"title\") and [web](https://x.org)\n"
            "```\n[not](in/a/fence.md)\n```\n`[nor](in/code.md)`\n")
    assert _links(text) == [(1, "docs/a.md#part"), (1, "../b.png"), (1, "https://x.org")]
    assert [t for _, t in _links(text) if _relative(t)] == ["docs/a.md#part", "../b.png"]
