"""SOURCE -> pictures and frames: kind detection, picture loading, folder/glob listing, video and camera readers.

The kind is recognised from SOURCE itself, as Ultralytics' ``source=`` does: a whole number that is not
an existing path is a camera index, an ``rtsp://``/``http://`` address a live stream, an existing folder
a folder, an existing file a picture or a video (by its extension, else by what OpenCV can open), and
anything else with ``*``, ``?`` or ``[`` in it a glob.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import re
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator, Protocol

import cv2
import numpy as np

from .classify import _native_stderr_muted

PICTURE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".jp2", ".exr", ".hdr", ".pic", ".avif"})
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
    ".m2ts", ".3gp", ".asf", ".ogv"})
STREAM_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")
ROTATIONS = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
SOURCE_HELP = ("give a camera index (0), a picture, a video, a folder, a quoted glob such as 'scans/*.jpg' or a "
               "text file naming one picture per line")
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})
VIDEO_HELP = "check that the file is complete and is a video format FFmpeg reads"


class SourceError(Exception):
    """SOURCE cannot be used; the message is one line: what is wrong; what to do."""


class PictureError(Exception):
    """One picture cannot be read; the message says why (empty, truncated, not a picture...)."""


class SourceKind(str, Enum):
    CAMERA = "camera"
    STREAM = "stream"
    VIDEO = "video"
    PICTURE = "picture"
    FOLDER = "folder"
    GLOB = "glob"
    LIST = "list"                    # a text file naming one picture or video per line

    @property
    def is_live(self) -> bool:
        return self in (SourceKind.CAMERA, SourceKind.STREAM)


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    spec: str                        # SOURCE as the user typed it
    camera_index: int | None = None  # CAMERA only

    @property
    def path(self) -> Path:
        return Path(self.spec).expanduser()


@dataclass(frozen=True)
class MediaFile:
    path: Path
    is_video: bool
    relative: Path  # path below the folder or glob root: keeps --save names apart in subfolders


@dataclass
class Listing:
    """What a folder or glob holds, in natural order ("scan2" before "scan10")."""
    root: Path = Path(".")  # the folder, or the fixed part of the glob before its first wildcard
    media: list[MediaFile] = field(default_factory=list)
    others: list[Path] = field(default_factory=list)  # files that are neither pictures nor videos
    repeated: list[Path] = field(default_factory=list)  # links to folders listed already (loops): not followed


# -- what SOURCE is ---------------------------------------------------------------------------------

def detect_source(spec: str) -> Source:
    """The kind of SOURCE, or SourceError when it names nothing that can be read."""
    spec = str(spec).strip()
    if not spec:
        raise SourceError(f"SOURCE is empty; {SOURCE_HELP}")
    path = Path(spec).expanduser()
    if re.fullmatch(r"\d+", spec) and not path.exists():
        return Source(SourceKind.CAMERA, spec, camera_index=int(spec))
    if spec.lower().startswith(STREAM_SCHEMES):
        return Source(SourceKind.STREAM, spec)
    if path.is_dir():
        return Source(SourceKind.FOLDER, spec)
    if path.is_file():
        if path.suffix.lower() in LIST_SUFFIXES:
            return Source(SourceKind.LIST, spec)
        kind = file_kind(path)
        if kind is None:
            raise SourceError(f"{spec} is neither a picture nor a video that OpenCV can read; {SOURCE_HELP}")
        return Source(kind, spec)
    if path.exists():
        raise SourceError(f"{spec} is not a regular file or folder; {SOURCE_HELP}")
    if glob.has_magic(spec):
        return Source(SourceKind.GLOB, spec)
    raise SourceError(f"{spec} does not exist; {SOURCE_HELP}")


def file_kind(path: Path) -> SourceKind | None:
    """PICTURE or VIDEO by extension; for other extensions by what OpenCV recognises; else None."""
    suffix = path.suffix.lower()
    if suffix in PICTURE_SUFFIXES:
        return SourceKind.PICTURE
    if suffix in VIDEO_SUFFIXES:
        return SourceKind.VIDEO
    try:
        if path.stat().st_size == 0:
            return None
        with muted(), cv2_path(path) as name:
            if cv2.haveImageReader(name):  # looks at the file's first bytes
                return SourceKind.PICTURE
    except (OSError, cv2.error):
        return None
    with muted(), cv2_path(path) as name:
        capture = cv2.VideoCapture(name)
        try:
            return SourceKind.VIDEO if capture.isOpened() and capture.read()[0] else None
        finally:
            capture.release()


def list_media(source: Source, recursive: bool = False) -> Listing:
    """Pictures, videos and other files of a FOLDER or GLOB source (hidden files are left out).

    Subfolders (--recursive, or ``**`` in a glob) are walked following links to folders, but each
    folder once: a link back to a folder already listed (``again -> .``, a loop) is not followed and
    is named in ``repeated``. A file reached through several folder names is listed once."""
    repeated: list[Path] = []
    if source.kind is SourceKind.FOLDER:
        root = source.path
        if recursive:
            files, repeated = walk_files(root)
        else:
            files = [p for p in root.iterdir() if p.is_file() and not _hidden(p.relative_to(root))]
    elif source.kind is SourceKind.GLOB:
        root = _glob_root(source.spec)
        files, repeated = _glob_files(source.spec, root)
        if not files:
            raise SourceError(f"no files match {source.spec}; check the pattern (quote it so that the shell "
                              "does not expand it)")
    elif source.kind is SourceKind.LIST:
        files = listed_paths(source.path)
        root = _common_folder(files)
    else:
        raise ValueError(f"{source.kind} is not a folder, glob or list")
    listing = Listing(root, repeated=repeated)
    for path in sorted(_once(files), key=natural_key) if source.kind is not SourceKind.LIST else _once(files):
        if source.kind is SourceKind.LIST and not path.exists():
            kind = SourceKind.PICTURE  # reported as it is read, and counted with the files skipped
        else:
            kind = file_kind(path) if path.suffix.lower() in PICTURE_SUFFIXES | VIDEO_SUFFIXES else _sniff(path)
        relative = _relative(path, root)
        if kind is SourceKind.PICTURE:
            listing.media.append(MediaFile(path, False, relative))
        elif kind is SourceKind.VIDEO:
            listing.media.append(MediaFile(path, True, relative))
        else:
            listing.others.append(path)
    return listing


def listed_paths(list_file: Path) -> list[Path]:
    """The paths a list file names, one per line, in its order (blank lines and lines starting with #
    left out); relative ones start from the current folder, as for ``tar -T`` or ``xargs``."""
    try:
        text = list_file.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as err:
        raise SourceError(f"cannot read the list {list_file}: {err.strerror or err}") from None
    paths = [Path(line.strip()).expanduser() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not any(path.exists() for path in paths[:1000]):  # a text file that is no list of files at all
        first = f" (its first line, {str(paths[0])!r}, names no file)" if paths else ""
        raise SourceError(f"{list_file} is neither a picture nor a video, nor a list of files that exist{first}; "
                          f"{SOURCE_HELP}")
    return paths


def _common_folder(paths: list[Path]) -> Path:
    """The deepest folder holding every path (names below it keep --save copies apart)."""
    try:
        return Path(os.path.commonpath([str(p.absolute().parent) for p in paths]))
    except ValueError:  # different drives (Windows)
        return Path(".")


def walk_files(root: Path, hidden: bool = False) -> tuple[list[Path], list[Path]]:
    """Every file below ``root`` (hidden ones and hidden folders only if ``hidden``), and the links to
    folders that were not followed because their folder is listed already.

    Each folder (by device and inode) is read once: first the tree itself, then the folders that links
    lead to, so that a file keeps its own path where it has one and a link loop ends at once."""
    files: list[Path] = []
    repeated: list[Path] = []
    links: deque[Path] = deque()
    seen = {_folder_id(root)}
    trees = [root]
    while trees:
        stack = [trees.pop()]
        while stack:
            try:
                entries = sorted(os.scandir(stack.pop()), key=lambda e: e.name)
            except OSError:  # a folder that cannot be read: nothing from it
                continue
            for entry in entries:
                if not hidden and entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        seen.add(_folder_id(entry.path))
                        stack.append(entry.path)
                    elif entry.is_symlink() and entry.is_dir():
                        links.append(Path(entry.path))
                    elif entry.is_file():
                        files.append(Path(entry.path))
                except OSError:  # gone meanwhile, or a link that cannot be followed
                    continue
        while links and not trees:
            link = links.popleft()
            try:
                folder = _folder_id(link)
            except OSError:
                continue
            if folder in seen:
                repeated.append(link)
            else:
                seen.add(folder)
                trees.append(str(link))
    return files, repeated


def _folder_id(path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _once(files: list[Path]) -> list[Path]:
    """``files`` without the ones named again through another name of the same folder (a glob through
    a link loop); links to files, each a name of its own, stay."""
    kept, seen = [], set()
    for path in files:
        try:
            key = (_folder_id(path.parent), path.name)
        except OSError:
            key = (str(path.parent), path.name)
        if key not in seen:
            seen.add(key)
            kept.append(path)
    return kept


def _glob_files(pattern: str, root: Path) -> tuple[list[Path], list[Path]]:
    """Files matching ``pattern``. A ``**`` walks the folders below the fixed part of the pattern with
    ``walk_files`` (glob itself would follow a link loop for ever); other patterns go to glob."""
    expanded = Path(pattern).expanduser()
    segments = expanded.parts[len(root.parts) if root != Path(".") else 0:]
    if "**" not in segments:
        return [p for p in map(Path, glob.glob(str(expanded))) if p.is_file()], []
    hidden = any(part.startswith(".") for part in segments)
    files, repeated = walk_files(root, hidden=hidden)
    matched = [p for p in files if _glob_matches(_relative(p, root).parts, segments)]
    return matched, repeated


def _glob_matches(parts: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    """Whether a path's parts match a glob's segments as glob.glob(recursive=True) matches them: ``**``
    stands for any number of folders, and names starting with a dot only match a dot."""
    if not segments:
        return not parts
    first, rest = segments[0], segments[1:]
    if first == "**":
        return any(_glob_matches(parts[k:], rest) for k in range(len(parts) + 1)
                   if not any(part.startswith(".") for part in parts[:k]))
    return (bool(parts) and (not parts[0].startswith(".") or first.startswith("."))
            and fnmatch.fnmatch(parts[0], first) and _glob_matches(parts[1:], rest))


def _sniff(path: Path) -> SourceKind | None:
    """Files with an unknown extension in a folder: pictures OpenCV recognises by their header, or nothing.
    (Opening every stray file as a video would be slow and noisy; a video needs its extension.)"""
    try:
        with muted(), cv2_path(path) as name:
            return SourceKind.PICTURE if path.stat().st_size and cv2.haveImageReader(name) else None
    except (OSError, cv2.error):
        return None


def natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard: 'scans/2024/*.jpg' -> scans/2024."""
    parts = Path(pattern).expanduser().parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative(path: Path, root: Path) -> Path:
    for candidate in (path, path.absolute()):  # a list's relative paths, below the absolute folder they share
        try:
            return candidate.relative_to(root)
        except ValueError:
            pass
    return Path(path.name)


# -- pictures --------------------------------------------------------------------------------------

def load_picture(path: str | Path, rotate: int = 0) -> np.ndarray:
    """A picture as OpenCV's default IMREAD_COLOR decodes it (EXIF orientation applied), BGRA when it has
    transparency (the recognizer puts it on white), turned ``rotate`` degrees counter-clockwise."""
    try:
        data = np.fromfile(str(path), np.uint8)  # fromfile + imdecode also read non-ASCII paths on Windows
    except OSError as err:
        raise PictureError(f"cannot open it ({err.strerror or err})") from None
    if data.size == 0:
        raise PictureError("the file is empty (0 bytes)")
    if is_truncated(data):
        raise PictureError("the file is truncated (it ends before the picture does)")
    with muted():  # libpng and libjpeg write their complaints to stderr: ours says it in one line
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if image is None:
            raise PictureError("not a picture OpenCV can decode (damaged, or an unsupported format)")
        if _has_alpha(data):
            image = _with_alpha(data, image)
    return rotated(image, rotate)


@contextmanager
def cv2_path(path: str | Path) -> Iterator[str]:
    """``path`` as a name OpenCV can be given. OpenCV's Python binding crashes the whole process on a
    name that is not UTF-8 (Python keeps such bytes as surrogates, ``\\udcff``): such a file is reached
    through a link with a plain name in a temporary folder."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        suffix = "".join(ch for ch in Path(name).suffix if ch.isascii() and ch.isalnum())
        with tempfile.TemporaryDirectory(prefix="livedigits-") as folder:
            link = os.path.join(folder, f"file.{suffix}" if suffix else "file")
            os.symlink(os.path.abspath(name), link)
            yield link
        return
    yield name


@contextmanager
def muted() -> Iterator[None]:
    """Native stderr silenced for a decoder or FFmpeg call (they print lines such as "moov atom not
    found" or "libpng error: bad adaptive filter value" past Python; our own message says what failed in
    one line). Only in the main thread: muting is process-wide and would swallow other threads' lines."""
    if threading.current_thread() is threading.main_thread():
        with _native_stderr_muted():
            yield
    else:
        yield


def rotated(image: np.ndarray, degrees_ccw: int) -> np.ndarray:
    """``image`` turned counter-clockwise by 0, 90, 180 or 270 degrees."""
    if degrees_ccw not in ROTATIONS:
        raise ValueError(f"rotation must be one of {sorted(ROTATIONS)}, got {degrees_ccw}")
    code = ROTATIONS[degrees_ccw]
    return image if code is None else cv2.rotate(image, code)


def is_truncated(data: np.ndarray) -> bool:
    """True when a JPEG, PNG, WebP or BMP file stops before its end marker. JPEG decoders fill the
    missing part with grey instead of failing, so a cut-off photo would otherwise pass as a picture."""
    raw = data.tobytes()
    if raw[:2] == b"\xff\xd8":
        return _jpeg_truncated(raw)
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_truncated(raw)
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return int.from_bytes(raw[4:8], "little") + 8 > len(raw)
    if raw[:2] == b"BM" and len(raw) >= 6:
        declared = int.from_bytes(raw[2:6], "little")
        return declared > len(raw)  # some writers put 0 here: that passes
    return False


def _jpeg_truncated(raw: bytes) -> bool:
    """Walk the marker segments to the first scan (skipping the EXIF thumbnail, itself a small JPEG), then
    look for the end-of-image marker after it."""
    position, size = 2, len(raw)
    while position + 4 <= size:
        if raw[position] != 0xFF:
            return False  # not the layout we know: let the decoder judge
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data follows until EOI
            return raw.find(b"\xff\xd9", position) == -1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if marker == 0xD9:
            return False
        position += 2 + int.from_bytes(raw[position + 2:position + 4], "big")
    return True


def _png_truncated(raw: bytes) -> bool:
    position = 8
    while position + 8 <= len(raw):
        length = int.from_bytes(raw[position:position + 4], "big")
        chunk = raw[position + 4:position + 8]
        position += 12 + length
        if chunk == b"IEND":
            return position > len(raw)
    return True


def _has_alpha(data: np.ndarray) -> bool:
    """PNG with an alpha channel (colour types 4 and 6) or a transparent colour (a tRNS chunk, as palette
    PNGs have), or WebP with its alpha flag set."""
    head = data[:64].tobytes()
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) > 25:
        return head[25] in (4, 6) or _png_chunk_before_data(data, b"tRNS")
    if head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20:
        return bool(head[20] & 0x10)
    return False


def _png_chunk_before_data(data: np.ndarray, kind: bytes) -> bool:
    """Whether a PNG has a chunk of ``kind`` before its first IDAT (where tRNS and PLTE must stand)."""
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position:position + 4].tobytes(), "big")
        chunk = data[position + 4:position + 8].tobytes()
        if chunk == kind:
            return True
        if chunk == b"IDAT":
            return False
        position += 12 + length
    return False


_ORIENTATIONS = (lambda a: a, lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE), lambda a: cv2.rotate(a, cv2.ROTATE_180),
                 lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE), lambda a: cv2.flip(a, 1),
                 lambda a: cv2.flip(a, 0), lambda a: cv2.transpose(a), lambda a: cv2.flip(cv2.transpose(a), -1))


def _with_alpha(data: np.ndarray, oriented: np.ndarray) -> np.ndarray:
    """The BGRA picture, turned like ``oriented`` (IMREAD_UNCHANGED keeps alpha but ignores EXIF
    orientation, so the turn is found by comparing the two decodes)."""
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.ndim != 3 or raw.shape[2] != 4 or raw.dtype not in (np.uint8, np.uint16):
        return oriented
    if raw.dtype == np.uint16:
        raw = (raw >> 8).astype(np.uint8)
    target = cv2.resize(oriented, (32, 32), interpolation=cv2.INTER_AREA).astype(np.int16)
    best, best_error = None, None
    for turn in _ORIENTATIONS:
        candidate = turn(raw)
        if candidate.shape[:2] != oriented.shape[:2]:
            continue
        error = np.abs(cv2.resize(candidate[..., :3], (32, 32), interpolation=cv2.INTER_AREA).astype(np.int16)
                       - target).mean()
        if best_error is None or error < best_error:
            best, best_error = candidate, error
    return oriented if best is None else np.ascontiguousarray(best)


# -- videos and cameras ------------------------------------------------------------------------------

class Capture(Protocol):
    """What the readers need from cv2.VideoCapture; tests pass their own frame sources."""
    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def grab(self) -> bool: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[object], Capture]


@dataclass(frozen=True)
class Frame:
    index: int       # frame number in the source, from 0 (gaps show frames that were not processed)
    time_s: float    # seconds from the start of the video, or since the camera was opened
    image: np.ndarray


def _video_problem(path: Path) -> str | None:
    """Why a video file does not open, as far as its first bytes tell: empty, text, or an MP4/MOV whose
    index (the moov box, written last) is missing because the file was cut off."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
    except OSError as err:
        return f"cannot read it: {err.strerror or err}"
    if not head:
        return "the file is empty (0 bytes)"
    if _looks_like_text(head):
        return "the file holds text, not a video"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip") and not _has_mp4_index(path, size):
        return "it is cut off before its end: an MP4 or MOV without its index (moov) cannot be read"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not just a character cut at the end of what was read
            return False
        text = head[:err.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\r\n\f" for ch in text)


def _has_mp4_index(path: Path, size: int) -> bool:
    """Whether the top-level boxes of an ISO media file include moov (boxes: 32-bit size, 4-byte type)."""
    position = 0
    with open(path, "rb") as handle:
        while position + 8 <= size:
            handle.seek(position)
            header = handle.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind == b"moov":
                return True
            if length == 1 and len(header) == 16:  # a 64-bit size follows the type
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:  # the box runs to the end of the file
                return False
            if length < 8:
                return False
            position += length
    return False


class VideoFrames:
    """Frames of a video file: every ``every``-th one, at most ``max_frames``. A file that breaks off
    mid-way yields what decodes; ``ended_early`` then says so."""

    def __init__(self, path: str | Path, every: int = 1, max_frames: int | None = None, rotate: int = 0,
                 capture_factory: CaptureFactory = cv2.VideoCapture):
        self.path = Path(path)
        self.every, self.max_frames, self.rotate = max(1, int(every)), max_frames, rotate
        with muted(), cv2_path(self.path) as name:  # FFmpeg keeps the file open: the name may go after
            self.capture = capture_factory(name)
            opened = self.capture.isOpened()
        if not opened:
            self.capture.release()
            hint = _video_problem(self.path)
            raise SourceError(f"cannot open video {path}{f' ({hint})' if hint else ''}; {VIDEO_HELP}")
        fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 1000 else 0.0
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None  # containers without an index report 0 or less
        self.decoded = 0          # frames decoded or skipped over, i.e. how far into the file we got
        self.ended_early = False

    @property
    def expected_outputs(self) -> int | None:
        """How many frames iteration will yield, when the container says how long it is."""
        if self.frame_count is None:
            return self.max_frames
        count = -(-self.frame_count // self.every)
        return min(count, self.max_frames) if self.max_frames else count

    def __iter__(self) -> Iterator[Frame]:
        yielded, index = 0, 0
        while self.max_frames is None or yielded < self.max_frames:
            with muted():  # a damaged stretch makes FFmpeg print a line a frame
                ok, image = self.capture.read()
            if not ok or image is None:
                self._check_end(index)
                return
            self.decoded = index + 1
            time_s = index / self.fps if self.fps else self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            yield Frame(index, round(time_s, 3), rotated(image, self.rotate))
            yielded += 1
            index += 1
            for _ in range(self.every - 1):  # grab() skips a frame without decoding it
                with muted():
                    grabbed = self.capture.grab()
                if not grabbed:
                    self._check_end(index)
                    return
                index += 1
                self.decoded = index

    def _check_end(self, reached: int) -> None:
        # frame counts of damaged files are estimates: a few frames short of it is not "early"
        if self.frame_count is not None and reached < self.frame_count - 2:
            self.ended_early = True

    def close(self) -> None:
        self.capture.release()


class LatestFrameReader:
    """A live capture read in a background thread that always hands over the newest frame.

    A camera queues frames while the recognizer works; reading them in order would fall further and
    further behind. The thread reads as fast as the camera delivers and keeps only the newest frame;
    ``frames()`` yields each captured frame at most once, so gaps in ``Frame.index`` are frames that
    were dropped, never repeats. When the capture stops delivering (unplugged camera, end of a file
    used as a test source) iteration ends and ``end_reason`` says why.
    """

    def __init__(self, capture: Capture, name: str, rotate: int = 0, stall_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.capture, self.name, self.rotate = capture, name, rotate
        self.stall_timeout_s, self._clock = stall_timeout_s, clock
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0  # webcams often report 0; 30 is the usual rate
        self.captured = 0        # frames read from the capture
        self.handed_over = 0     # frames given to the consumer
        self.end_reason: str | None = None
        self._latest: tuple[int, float, np.ndarray] | None = None
        self._taken = -1
        self._stopping = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._read_loop, name=f"capture-{name}", daemon=True)
        self._started_at = 0.0

    @property
    def dropped(self) -> int:
        return self.captured - self.handed_over

    def start(self) -> "LatestFrameReader":
        self._started_at = self._clock()
        self._thread.start()
        return self

    def _read_loop(self) -> None:
        try:
            while not self._stopping:
                ok, image = self.capture.read()
                now = self._clock()
                if not ok or image is None:
                    with self._condition:
                        if not self._stopping:
                            self.end_reason = f"{self.name} stopped sending frames (disconnected?)"
                        self._condition.notify_all()
                    return
                with self._condition:
                    self._latest = (self.captured, now - self._started_at, image)
                    self.captured += 1
                    self._condition.notify_all()
        except Exception as err:  # a driver error must end the run with a message, not hang it
            with self._condition:
                self.end_reason = f"{self.name} failed: {err}"
                self._condition.notify_all()

    def next_frame(self, timeout_s: float | None = None) -> Frame | None:
        """The newest frame not handed over yet; None when the capture has ended or stalled."""
        timeout_s = self.stall_timeout_s if timeout_s is None else timeout_s
        with self._condition:
            fresh = lambda: self._latest is not None and self._latest[0] > self._taken  # noqa: E731
            ended = lambda: self.end_reason is not None or self._stopping or not self._thread.is_alive()  # noqa: E731
            if not self._condition.wait_for(lambda: fresh() or ended(), timeout=timeout_s):
                self.end_reason = f"{self.name} sent no frame for {timeout_s:.0f} s"
                return None
            if not fresh():
                return None
            index, time_s, image = self._latest
            self._taken = index
            self.handed_over += 1
        return Frame(index, round(time_s, 3), rotated(image, self.rotate))

    def frames(self) -> Iterator[Frame]:
        while True:
            frame = self.next_frame()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if not self._thread.is_alive():  # releasing while a read is blocked inside the driver can crash it
            self.capture.release()


def open_live(source: Source, capture_factory: CaptureFactory = cv2.VideoCapture, rotate: int = 0) -> LatestFrameReader:
    """A started LatestFrameReader on a camera index or stream address, or SourceError."""
    target = source.camera_index if source.kind is SourceKind.CAMERA else source.spec
    name = f"camera {source.camera_index}" if source.kind is SourceKind.CAMERA else f"stream {source.spec}"
    with muted():  # FFmpeg's "Connection refused" and the like: our line below says it
        capture = capture_factory(target)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        what = ("check that it is connected and not in use by another program, or try another index (0, 1, ...)"
                if source.kind is SourceKind.CAMERA else "check the address and that the stream is running")
        raise SourceError(f"cannot open {name}; {what}")
    return LatestFrameReader(capture, name, rotate=rotate).start()
