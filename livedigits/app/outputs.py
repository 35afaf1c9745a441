"""Where readings go: stdout lines, CSV rows, JSONL records, annotated pictures and annotated videos.

Every writer flushes after each picture or frame, so whatever stops the run (Ctrl-C, SIGTERM, a
closed pipe) the files hold complete lines for everything done so far; annotated pictures are
written under a temporary name and renamed, so a picture file is never half-written.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from ..pipeline import Reading

CSV_FIELDS = ("source", "frame", "time_s", "x", "y", "w", "h", "digit", "confidence", "line", "track")
SAVED_AS_JPEG = frozenset({".webp"})  # --save writes these as .jpg (see annotated_picture_path)
VIDEO_FOURCC = "mp4v"  # in every OpenCV build with FFmpeg; H.264 encoders are often missing


class OutputError(Exception):
    """An output cannot be written; the message is one line: what is wrong; what to do."""


@dataclass(frozen=True)
class FileStamp:
    """A picture file's size and modification time as it was read: what --resume compares."""
    bytes: int
    mtime: float

    @classmethod
    def of(cls, path: str | os.PathLike) -> "FileStamp | None":
        try:
            status = os.stat(path)
        except OSError:
            return None
        return cls(status.st_size, status.st_mtime)


@dataclass(frozen=True)
class Result:
    """The reading of one picture or one video/camera frame."""
    source: str               # the picture's path, the video's path or the camera/stream name
    frame: int                # 0 for pictures
    time_s: float | None      # None for pictures
    reading: Reading
    file: FileStamp | None = None  # pictures: the file's size and modification time (--resume)

    def record(self) -> dict:
        record = {"source": self.source, "frame": self.frame, "time_s": self.time_s, "text": self.reading.text,
                  "digits": [d.as_dict() for d in self.reading.digits],
                  "grids": [g.as_dict() for g in getattr(self.reading, "grids", ())]}
        if self.file is not None:
            record.update(file_bytes=self.file.bytes, file_mtime=self.file.mtime)
        return record

    def rows(self) -> list[list]:
        time_s = "" if self.time_s is None else self.time_s
        return [[self.source, self.frame, time_s, *(d.as_dict().get(k, "") for k in CSV_FIELDS[3:])]
                for d in self.reading.digits]


def open_text(path: str, what: str, stdout: TextIO | None = None, append: bool = False) -> TextIO:
    """``path`` for writing, or for appending (``-`` is ``stdout``, by default sys.stdout); parent folders are created.
    A file name that is not UTF-8 (its bytes kept by Python as surrogates) is written as ``\\udcff``:
    in JSONL that is JSON's own escape for it, so the record holds the name exactly."""
    if path == "-":
        return stdout or sys.stdout
    try:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return open(Path(path).expanduser(), "a" if append else "w", newline="", encoding="utf-8", errors="backslashreplace")
    except OSError as err:
        raise OutputError(f"cannot write {what} {path}: {err.strerror or err}; choose another path") from None


class _LineWriter:
    def __init__(self, path: str, what: str, guard=None, stdout: TextIO | None = None, append: bool = False):
        self.path, self.handle = path, open_text(path, what, stdout, append)
        self._owns_handle = path != "-"
        self._guard = guard

    def _write(self, text: str) -> None:
        # one write and one flush per record, shielded from Ctrl-C: the file never ends mid-line
        with self._guard.deferred() if self._guard else nullcontext():
            self.handle.write(text)
            self.handle.flush()

    def close(self) -> None:
        if self._owns_handle:
            self.handle.close()
        else:
            self.handle.flush()


class CsvWriter(_LineWriter):
    """One row per digit: source,frame,time_s,x,y,w,h,digit,confidence,line,track (``CSV_FIELDS``; track:
    the digit's track on a video or camera, empty for pictures and with --raw)."""

    def __init__(self, path: str, guard=None, stdout: TextIO | None = None, append: bool = False):
        super().__init__(path, "--csv", guard, stdout, append)
        if not append or path == "-" or self.handle.tell() == 0:
            self._write(_csv_text([CSV_FIELDS]))

    def write(self, result: Result) -> None:
        rows = result.rows()
        if rows:
            self._write(_csv_text(rows))


class GridCsvWriter(_LineWriter):
    """Every grid as a table, one line per grid row: source,frame,grid,row, then the row's cells
    ("" for an empty cell, "7", "12", or candidates as "1 4 7"). A video or camera writes a grid
    again only when its table changes."""

    def __init__(self, path: str, guard=None, stdout: TextIO | None = None, append: bool = False):
        super().__init__(path, "--grid-csv", guard, stdout, append)
        if not append or path == "-" or self.handle.tell() == 0:
            self._write(_csv_text([("source", "frame", "grid", "row", "cells")]))
        self._last: dict = {}

    def write(self, result: Result) -> None:
        rows = []
        for index, grid in enumerate(getattr(result.reading, "grids", ())):
            table = grid.table
            if self._last.get((result.source, index)) == table:
                continue
            self._last[(result.source, index)] = table
            rows.extend([result.source, result.frame, index, r, *cells] for r, cells in enumerate(table))
        if rows:
            self._write(_csv_text(rows))


def _csv_text(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


class JsonlWriter(_LineWriter):
    """One JSON record per picture or frame: source, frame, time_s, text, digits."""

    def __init__(self, path: str, guard=None, stdout: TextIO | None = None, append: bool = False):
        super().__init__(path, "--jsonl", guard, stdout, append)

    def write(self, result: Result) -> None:
        self._write(json.dumps(result.record(), ensure_ascii=False) + "\n")


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def one_line(text: str) -> str:
    """``text`` with control characters and line separators written as ``\\t``, ``\\n``, ``\\r``, ``\\xNN``
    or ``\\uNNNN``, and the bytes of a file name that is not UTF-8 as ``\\xNN``: a file name holding a
    newline or a tab keeps a stdout line, and a message, one line."""
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as Python keeps it in a file name
        return f"\\x{code - 0xDC00:02x}"
    return _ESCAPES.get(match.group()) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class TextPrinter:
    """``source<TAB>text`` on stdout, a picture's lines joined by a space, for piping into other tools.
    Video and camera frames print only when the (steady) text changes, as ``source#frame<TAB>text``:
    nothing until digits are read, an empty text when they leave the view. Control characters in a
    name are escaped (``one_line``), so each line holds exactly one tab."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self._last: dict[str, str] = {}

    def write(self, result: Result) -> None:
        text = " ".join(result.reading.lines)
        if result.time_s is None:
            line = f"{one_line(result.source)}\t{text}\n"
        elif self._last.get(result.source, "") != text:  # from nothing: a video starts with its first digits
            self._last[result.source] = text
            line = f"{one_line(result.source)}#{result.frame}\t{text}\n"
        else:
            return
        self.stream.write(line)
        self.stream.flush()  # a pipe reader sees each picture as soon as it is read

    def close(self) -> None:
        pass


# -- annotated files -------------------------------------------------------------------------------

def annotated_picture_path(save_dir: Path, relative: Path) -> Path:
    """Where the annotated copy of a picture goes: the same relative path and format, except WebP, saved
    as JPEG (.jpg: WebP's encoder takes 20 to 150 times as long for the same picture), and formats
    OpenCV cannot write, saved as PNG."""
    target = save_dir / relative
    if target.suffix.lower() in SAVED_AS_JPEG:
        return target.with_suffix(".jpg")
    if not _can_encode(target.suffix):
        return target.with_suffix(".png")
    return target


def _can_encode(suffix: str) -> bool:
    return suffix.isascii() and len(suffix) > 1 and cv2.haveImageWriter(f"picture{suffix}")


def _partial_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def remove_partial(path: Path) -> None:
    """Removes what a writer ended in the middle of ``write_picture(path, ...)`` left."""
    try:
        _partial_path(path).unlink(missing_ok=True)
    except OSError:
        pass


def write_picture(path: Path, image: np.ndarray) -> None:
    """Write under a temporary name, then rename: an interrupted run never leaves half a picture.
    Encoded in memory and written by Python: OpenCV's own writer crashes on a name that is not UTF-8."""
    make_folder(path.parent)
    partial = _partial_path(path)
    try:
        ok, encoded = cv2.imencode(path.suffix if _can_encode(path.suffix) else ".png", image)
        if not ok:
            raise OutputError(f"cannot encode {path}; choose another --save folder or format")
        encoded.tofile(partial)
        os.replace(partial, path)
    except cv2.error as err:
        raise OutputError(f"cannot write {path}: {str(err).strip().splitlines()[-1]}") from None
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}; check the folder is writable and has "
                          "space") from None
    finally:
        if partial.exists():
            partial.unlink()


def make_folder(folder: Path, what: str = "--save") -> None:
    """``folder`` and its parents, or OutputError (a file in the way, no permission)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create folder {folder}: {err.strerror or err}; "
                          f"choose another {what} folder") from None


def check_writable(path: Path, what: str, folder: bool = True) -> None:
    """Before a run: the folder ``path`` (or, with ``folder=False``, the file ``path``'s folder) is made
    and a file is tried in it, so that an option whose output is written late (--summary at the end, a
    video's .mp4 at its first frame, eval's --report) fails now with one line, not after a long run."""
    where = path if folder else path.parent
    make_folder(where, what)
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
        if not folder and path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
        if not folder and path.exists():
            open(path, "ab").close()
    except OSError as err:
        raise OutputError(f"cannot write {what} {path}: {err.strerror or err}; choose another "
                          f"{'folder' if folder else 'path'}") from None


class VideoWriter:
    """An annotated .mp4 with the source's frame size and rate, opened at the first frame (the size is
    known only then, and --rotate may turn it). ``close`` finalises the file so that it plays."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps if fps and fps > 0 else 30.0
        # OpenCV crashes on a name that is not UTF-8: such a video is written under a plain name, renamed at the end
        self._written_as = path if _is_utf8(str(path)) else path.with_name(
            f".livedigits-{os.getpid()}-{id(self)}.partial.mp4")
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray, repeat: int = 1) -> None:
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            make_folder(self.path.parent)
            self._writer = cv2.VideoWriter(str(self._written_as), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), self.fps,
                                           size)
            if not self._writer.isOpened():
                self._writer = None
                raise OutputError(f"cannot write video {self.path} (no {VIDEO_FOURCC} encoder, or the folder is "
                                  "not writable); choose another --save folder")
            self._size = size
        if size != self._size:  # a stream may change resolution: keep the file consistent
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        for _ in range(max(1, repeat)):
            self._writer.write(image)
            self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self._written_as != self.path:
                os.replace(self._written_as, self.path)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
