"""benchmarks/RESULTS.md is written by several scripts (bench.py, serve.py, cluster.py), each owning
some of its "## " sections: a script replaces its own sections and leaves the others as they are."""
from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# livedigits benchmark results\n"
_SECTION = re.compile(r"^## .*$", re.M)


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """(what comes before the first "## " heading, {heading line: the section, heading included})."""
    starts = [m.start() for m in _SECTION.finditer(text)]
    sections = {}
    for start, end in zip(starts, starts[1:] + [len(text)]):
        section = text[start:end].rstrip("\n") + "\n"
        sections[section.split("\n", 1)[0]] = section
    return (text[:starts[0]] if starts else text), sections


def replace_sections(markdown: str, path: Path = RESULTS, preamble: bool = False) -> None:
    """Each "## " section of ``markdown`` replaces the section of the same heading in ``path`` (or is
    added at the end); with ``preamble``, what ``markdown`` has before its first section (machine,
    command, date) replaces the file's."""
    old = path.read_text(encoding="utf-8") if path.exists() else TITLE
    old_head, sections = split_sections(old)
    new_head, new_sections = split_sections(markdown)
    sections.update(new_sections)  # a dict keeps the order of first insertion: old sections stay in place
    head = new_head if preamble else old_head
    path.write_text(head.rstrip("\n") + "\n\n" + "\n".join(sections.values()), encoding="utf-8")
