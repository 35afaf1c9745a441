"""benchmarks/results_file.py: a script rewrites its own sections of RESULTS.md and keeps the others."""
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from results_file import replace_sections, split_sections  # noqa: E402

OLD = """# livedigits benchmark results

Machine: old  
Date: 2026-11-30

## Frames

| old frames |

## Overlay

| overlay, written by hand |

## Web server

| old server |
"""


def test_own_sections_replaced_others_kept_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(OLD)
    replace_sections("# livedigits benchmark results\n\nMachine: new  \n\n## Frames\n\n| new frames |\n\n## Live\n\n| live |\n",
                     path, preamble=True)
    head, sections = split_sections(path.read_text())
    assert "Machine: new" in head and "Machine: old" not in head
    assert list(sections) == ["## Frames", "## Overlay", "## Web server", "## Live"]
    assert "| new frames |" in sections["## Frames"] and "old frames" not in sections["## Frames"]
    assert sections["## Overlay"] == "## Overlay\n\n| overlay, written by hand |\n"


def test_a_section_alone_keeps_the_preamble(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(OLD)
    replace_sections("## Web server\n\n| new server |\n", path)
    text = path.read_text()
    assert "Machine: old" in text and "| new server |" in text and "old server" not in text
    assert text.count("## ") == 3


def test_missing_file_is_started(tmp_path):
    path = tmp_path / "RESULTS.md"
    replace_sections("## Cluster\n\n| runs |\n", path)
    assert path.read_text().startswith("# livedigits benchmark results") and "| runs |" in path.read_text()
