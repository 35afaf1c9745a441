"""SOURCE -> pictures and frames: kind detection, picture loading, folder/glob listing, video and camera readers.

The kind is recognised from SOURCE itself, as Ultralytics' ``source=`` does: a whole number that is not
an existing path is a camera index, an ``rtsp://``/``http://`` address a live stream, an existing folder
a folder, an existing file a picture or a video (by its extension, else by what OpenCV can open), and
anything else with ``*``, ``?`` or ``[`` in it a glob.
"""
from __future__ import annotations

import glob
import re
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator, Protocol

import cv2
import numpy as np

PICTURE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".jp2", ".exr", ".hdr", ".pic", ".avif"})
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
    ".m2ts", ".3gp", ".asf", ".ogv"})
STREAM_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")
ROTATIONS = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
SOURCE_HELP = "give a camera index (0), a picture, a video, a folder or a quoted glob such as 'scans/*.jpg'"


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
        if cv2.haveImageReader(str(path)):  # looks at the file's first bytes
            return SourceKind.PICTURE
    except (OSError, cv2.error):
        return None
    capture = cv2.VideoCapture(str(path))
    try:
        return SourceKind.VIDEO if capture.isOpened() and capture.read()[0] else None
    finally:
        capture.release()


def list_media(source: Source, recursive: bool = False) -> Listing:
    """Pictures, videos and other files of a FOLDER or GLOB source (hidden files are left out)."""
    if source.kind is SourceKind.FOLDER:
        root = source.path
        found = root.rglob("*") if recursive else root.iterdir()
        files = [p for p in found if p.is_file() and not _hidden(p.relative_to(root))]
    elif source.kind is SourceKind.GLOB:
        root = _glob_root(source.spec)
        files = [Path(p) for p in glob.glob(str(Path(source.spec).expanduser()), recursive=True)]
        files = [p for p in files if p.is_file()]
        if not files:
            raise SourceError(f"no files match {source.spec}; check the pattern (quote it so that the shell "
                              "does not expand it)")
    else:
        raise ValueError(f"{source.kind} is not a folder or glob")
    listing = Listing(root)
    for path in sorted(files, key=natural_key):
        kind = file_kind(path) if path.suffix.lower() in PICTURE_SUFFIXES | VIDEO_SUFFIXES else _sniff(path)
        relative = _relative(path, root)
        if kind is SourceKind.PICTURE:
            listing.media.append(MediaFile(path, False, relative))
        elif kind is SourceKind.VIDEO:
            listing.media.append(MediaFile(path, True, relative))
        else:
            listing.others.append(path)
    return listing


def _sniff(path: Path) -> SourceKind | None:
    """Files with an unknown extension in a folder: pictures OpenCV recognises by their header, or nothing.
    (Opening every stray file as a video would be slow and noisy; a video needs its extension.)"""
    try:
        return SourceKind.PICTURE if path.stat().st_size and cv2.haveImageReader(str(path)) else None
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
    try:
        return path.relative_to(root)
    except ValueError:
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
    head = data[:64].tobytes()
    if is_truncated(data):
        raise PictureError("the file is truncated (it ends before the picture does)")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise PictureError("not a picture OpenCV can decode (damaged, or an unsupported format)")
    if _has_alpha(head):
        image = _with_alpha(data, image)
    return rotated(image, rotate)


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


def _has_alpha(head: bytes) -> bool:
    """PNG with an alpha channel (colour types 4 and 6) or WebP with its alpha flag set."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) > 25:
        return head[25] in (4, 6)
    if head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20:
        return bool(head[20] & 0x10)
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


class VideoFrames:
    """Frames of a video file: every ``every``-th one, at most ``max_frames``. A file that breaks off
    mid-way yields what decodes; ``ended_early`` then says so."""

    def __init__(self, path: str | Path, every: int = 1, max_frames: int | None = None, rotate: int = 0,
                 capture_factory: CaptureFactory = cv2.VideoCapture):
        self.path = Path(path)
        self.every, self.max_frames, self.rotate = max(1, int(every)), max_frames, rotate
        self.capture = capture_factory(str(path))
        if not self.capture.isOpened():
            self.capture.release()
            hint = (" (an .mp4 cut off before its end has no index and cannot be read)"
                    if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "")
            raise SourceError(f"cannot open video {path}{hint}; check that the file is complete and is a "
                              "video format FFmpeg reads")
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
                if not self.capture.grab():
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
    capture = capture_factory(target)
    if not capture.isOpened():
        capture.release()
        what = ("check that it is connected and not in use by another program, or try another index (0, 1, ...)"
                if source.kind is SourceKind.CAMERA else "check the address and that the stream is running")
        raise SourceError(f"cannot open {name}; {what}")
    return LatestFrameReader(capture, name, rotate=rotate).start()
