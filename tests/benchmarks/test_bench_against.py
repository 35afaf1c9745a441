"""bench.py --only against: another checkout, however old, is timed beside this one."""
import sys
import types
from argparse import Namespace

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402


class _Recent:
    def __init__(self, model=None, min_confidence=0.5, num_threads=None, reader="auto", string_model=None):
        self.options = {"num_threads": num_threads, "reader": reader}


class _BeforeStrings:  # the first release: no reader option
    def __init__(self, model=None, min_confidence=0.5, num_threads=None):
        self.options = {"num_threads": num_threads}


class _Oldest:
    def __init__(self, model=None):
        self.options = {}


@pytest.mark.parametrize("recognizer, expected", [
    (_Recent, {"num_threads": 2, "reader": "digits"}),
    (_BeforeStrings, {"num_threads": 2}),
    (_Oldest, {}),
])
def test_options_an_older_checkout_lacks_are_left_out(recognizer, expected):
    package = types.SimpleNamespace(Recognizer=recognizer)
    assert bench._recognizer_of(package, 2, "digits").options == expected


def test_a_folder_that_is_no_checkout_is_a_one_line_error(tmp_path):
    args = Namespace(against=tmp_path, threads=None, reader="auto", distinct=1, repeats=1)
    with pytest.raises(SystemExit, match="not a checkout of livedigits"):
        bench.section_against(args, None, [])
