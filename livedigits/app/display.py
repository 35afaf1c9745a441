"""The --show window: an OpenCV window with the overlay and the keys q/Esc (quit), space (pause), s (snapshot).

Checked before anything is opened: the headless OpenCV wheel has no windows at all, and on Linux a Qt
or GTK build aborts the whole process when no display is reachable.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from enum import Enum

import cv2
import numpy as np

SAVE_HINT = "use --save DIR to write annotated files instead"


class DisplayError(Exception):
    """--show cannot open a window here; the message says why and what to do."""


class Key(Enum):
    NONE = "none"
    QUIT = "quit"          # q, Esc, or the window closed
    PAUSE = "pause"        # space
    SNAPSHOT = "snapshot"  # s
    OTHER = "other"


def gui_problem() -> str | None:
    """Why no OpenCV window can be opened in this process, or None when one can."""
    match = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    if match and match.group(1).upper() == "NONE":
        return ("--show needs OpenCV with GUI support, but this is a build without it (e.g. the headless "
                f"wheel opencv-python-headless); install opencv-python, or {SAVE_HINT}")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return (f"--show needs a display, but none is set (DISPLAY is empty); run it in a desktop session, "
                f"or {SAVE_HINT}")
    return _probe_window()


_PROBE = "import cv2; cv2.namedWindow('livedigits-probe'); cv2.waitKey(1); cv2.destroyAllWindows()"


def _probe_window() -> str | None:
    """Opens a window in a child process first: a Qt build that cannot reach the display (a stale DISPLAY,
    ssh without X forwarding, a missing platform plugin) aborts the whole process, outputs and all."""
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None  # cannot tell: let the real window try
    if probe.returncode == 0:
        return None
    lines = [line.strip() for line in probe.stderr.splitlines() if line.strip()]
    reason = next((line for line in lines if "display" in line.lower() or "plugin" in line.lower()),
                  lines[-1] if lines else f"exit status {probe.returncode}")
    return f"--show cannot open a window here ({reason[:160]}); {SAVE_HINT}"


def key_of(code: int) -> Key:
    if code < 0:
        return Key.NONE
    code &= 0xFF
    if code in (ord("q"), ord("Q"), 27):
        return Key.QUIT
    if code == ord(" "):
        return Key.PAUSE
    if code in (ord("s"), ord("S")):
        return Key.SNAPSHOT
    return Key.OTHER


class Window:
    """One resizable OpenCV window; ``show`` returns the key pressed while waiting ``wait_ms``
    (0 waits for a key). Ask ``gui_problem()`` first: where no display is reachable, a Qt build of
    OpenCV aborts the process on the first window instead of raising."""

    def __init__(self, title: str = "livedigits"):
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as err:  # e.g. "The function is not implemented" on builds without a GUI backend
            reason = str(err).strip().splitlines()[-1]
            raise DisplayError(f"--show cannot open a window ({reason}); {SAVE_HINT}") from None

    def show(self, image: np.ndarray, wait_ms: int = 1) -> Key:
        cv2.imshow(self.title, image)
        if wait_ms > 0:
            return self.wait(wait_ms)
        while True:  # waitKey(0) would not notice the window being closed with the mouse
            key = self.wait(100)
            if key is not Key.NONE:
                return key

    def wait(self, wait_ms: int) -> Key:
        key = key_of(cv2.waitKey(wait_ms))
        try:
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
                return Key.QUIT  # closed with the mouse
        except cv2.error:
            return Key.QUIT
        return key

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
        except cv2.error:
            pass
