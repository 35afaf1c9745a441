"""Ctrl-C or SIGTERM while the ``livedigits`` command is still starting (importing numpy, OpenCV and
the pipeline takes a few tenths of a second) ends it quietly with status 130 or 143, as it does later.

The package imports this module before anything else. It acts only when this process is the command
(the console script, or ``python -m livedigits``): importing livedigits as a library never changes
signal handling. The command hands the signals over to its own handling with ``release()`` first thing.
"""
from __future__ import annotations

import os
import signal
import sys

_HANDLED = (signal.SIGINT, signal.SIGTERM)
_previous: dict[int, object] = {}


def _is_the_command() -> bool:
    name = os.path.basename(sys.argv[0] if sys.argv else "").lower()
    if name in ("livedigits", "livedigits.exe", "livedigits-script.py"):
        return True
    given = getattr(sys, "orig_argv", [])
    # while `python -m livedigits` imports the package, sys.argv[0] is "-m"
    return sys.argv[:1] == ["-m"] and ("-mlivedigits" in given or any(
        a == "-m" and b == "livedigits" for a, b in zip(given, given[1:])))


def _end_quietly(number: int, _frame) -> None:
    try:
        os.write(2, b"\nlivedigits: interrupted\n")
    except OSError:
        pass
    os._exit(128 + number)  # nothing is open yet: no output to close, no traceback to show


def release() -> None:
    """Puts back the handlers this module replaced (the command's own handling takes over)."""
    for number, handler in _previous.items():
        signal.signal(number, handler)
    _previous.clear()


if _is_the_command():
    try:
        for _number in _HANDLED:
            _previous[_number] = signal.signal(_number, _end_quietly)
    except (ValueError, OSError):  # not the main thread, or a platform without the signal
        release()
