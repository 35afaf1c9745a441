"""The run: a source's pictures and frames through the recognizer into the outputs.

Data flows one way: sources -> (batch | recognizer) -> Result -> writers / annotated files / window.
The run owns nothing it cannot close: every writer, pool, capture and window is closed in ``finally``
(with further signals shielded), so an interrupted run leaves complete CSV/JSONL lines and playable
videos.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TextIO

import cv2
from tqdm import tqdm

from ..grid import GridFusion
from ..overlay import LayoutCache, draw
from ..pipeline import Reading, Recognizer
from ..sources import (CaptureFactory, Frame, LatestFrameReader, MediaFile, Source, SourceError, SourceKind, VideoFrames,
                      list_media, open_live)
from ..fusion import FusionSettings, PageFusion, PageSummary
from ..track import Stabilizer, SummaryCollector, TrackSettings, write_summary
from .batch import PictureJob, PictureReader, RecognizerSpec, declared_size
from .display import Key
from .interrupts import InterruptGuard
from .outputs import (CsvWriter, FileStamp, GridCsvWriter, JsonlWriter, OutputError, Result, TextPrinter, VideoWriter,
                      annotated_picture_path, check_writable, one_line, write_picture)
from .resume import plan_resume


LARGE_PICTURE_PIXELS = 50_000_000  # from here on a picture takes seconds to decode and read: a note says so


@dataclass
class RunSettings:
    rotate: int = 0                  # degrees counter-clockwise
    every: int = 1                   # video frame stride
    max_frames: int | None = None    # per video or camera
    workers: int = 1
    recursive: bool = False
    quiet: bool = False
    save_dir: Path | None = None
    csv_path: str | None = None
    jsonl_path: str | None = None
    grid_csv_path: str | None = None  # every grid found, as a table (one line per grid row)
    show: bool = False
    raw: bool = False                # videos and cameras: every frame read on its own, no tracking
    steady: str = "page"             # videos and cameras: "page" fusion, or "track" (digits tracked in the frame)
    summary_path: str | None = None  # videos and cameras: the distinct number strings seen, and when
    labels: str = "full"             # the overlay's label on each digit: full, digit or none
    resume: bool = False             # skip the pictures the outputs hold already, append the rest
    cluster: str | None = None       # read the pictures on a Ray cluster at this address (app/cluster.py)


@dataclass
class Summary:
    pictures: int = 0
    videos: int = 0
    frames: int = 0
    digits: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (path, why)
    ignored: list[str] = field(default_factory=list)               # neither pictures nor videos
    stopped_by_user: bool = False
    started: float = field(default_factory=time.perf_counter)
    has_pictures: bool = True        # what the run is to read: a video or camera run counts only frames
    has_frames: bool = False
    already: int = 0                 # --resume: pictures the outputs held already, not read again

    def add(self, result: Result) -> None:
        self.digits += len(result.reading.digits)

    def done(self) -> str:
        """"3 pictures", "90 frames" or "3 pictures and 90 frames" (a video run stopped at once: "0 frames")."""
        parts = []
        if self.pictures or (self.has_pictures and not self.frames):
            parts.append(_count(self.pictures, "picture"))
        if self.frames or self.has_frames or not parts:
            parts.append(_count(self.frames, "frame"))
        return " and ".join(parts)

    def line(self) -> str:
        text = f"read {self.done()}: {_count(self.digits, 'digit')} in {time.perf_counter() - self.started:.1f} s"
        if self.already:
            text += f"; {_count(self.already, 'picture')} read before (--resume)"
        if self.skipped:
            text += f"; skipped {_count(len(self.skipped), 'file')} that could not be read"
        if self.ignored:
            text += f"; ignored {_count(len(self.ignored), 'file')} that are neither pictures nor videos"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class Messages:
    """Lines on stderr that do not tear through a progress bar."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr

    def say(self, text: str) -> None:
        tqdm.write(f"livedigits: {one_line(text)}", file=self.stream)


class Sinks:
    """The line outputs: stdout, --csv, --jsonl."""

    def __init__(self, settings: RunSettings, guard: InterruptGuard | None, stdout: TextIO | None = None):
        self.writers = []
        try:
            if settings.csv_path:
                self.writers.append(CsvWriter(settings.csv_path, guard, stdout, append=settings.resume))
            if settings.grid_csv_path:
                self.writers.append(GridCsvWriter(settings.grid_csv_path, guard, stdout, append=settings.resume))
            if settings.jsonl_path:  # written last: --resume counts a picture done once its JSONL line is there
                self.writers.append(JsonlWriter(settings.jsonl_path, guard, stdout, append=settings.resume))
        except OutputError:
            self.close()
            raise
        if "-" not in (settings.csv_path, settings.jsonl_path, settings.grid_csv_path):  # stdout already carries CSV or JSONL
            self.writers.insert(0, TextPrinter(stdout))

    def write(self, result: Result) -> None:
        for writer in self.writers:
            writer.write(result)

    def close(self) -> None:
        for writer in self.writers:
            try:
                writer.close()
            except BrokenPipeError:  # stdout's reader is gone; the files still get closed
                pass


class FpsMeter:
    """Frames per second over the last ``window`` processed frames: what the overlay shows."""

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.perf_counter):
        self._times: deque[float] = deque(maxlen=window)
        self._clock = clock

    def tick(self) -> float | None:
        self._times.append(self._clock())
        if len(self._times) < 2:
            return None
        return (len(self._times) - 1) / max(1e-6, self._times[-1] - self._times[0])


@dataclass
class Run:
    """One command run over one SOURCE."""
    source: Source
    settings: RunSettings
    spec: RecognizerSpec
    recognizer: Recognizer
    guard: InterruptGuard
    capture_factory: CaptureFactory = cv2.VideoCapture
    window_factory: Callable[[], object] | None = None
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    def __post_init__(self):
        self.summary = Summary()
        self.messages = Messages(self.stderr)
        self.viewer: Viewer | None = None  # the --show window
        self._summaries: dict[str, SummaryCollector | PageSummary] = {}
        self._targets: dict[Path, Path] = {}  # --save: input -> its annotated copy

    # -- the whole run -------------------------------------------------------------------------
    def execute(self) -> Summary:
        """Reads everything; SourceError/OutputError/DisplayError stop it, KeyboardInterrupt passes up.
        Inputs, camera and window are opened before any output file, so bad input leaves no files."""
        media = self._plan()
        if self.settings.resume:
            media = self._resume(media)
        with ExitStack() as closing:  # closes everything opened, in reverse order, even if one close fails
            live = None
            if self.source.kind.is_live:
                live = open_live(self.source, self.capture_factory, self.settings.rotate)
                closing.callback(live.close)
            if self.settings.show and self.window_factory is not None:
                window = self.window_factory()
                closing.callback(window.close)
                self.viewer = Viewer(window, self.source, self.settings.save_dir, self.summary, self.messages)
            if self.settings.summary_path:  # checked (and its folder made) now: not lost after a long run
                check_writable(Path(self.settings.summary_path), "--summary", folder=False)
            sinks = Sinks(self.settings, self.guard, self.stdout)
            closing.callback(sinks.close)
            if self.settings.summary_path:
                closing.callback(self._write_summary)  # also after Ctrl-C: what was seen so far
            closing.callback(self.guard.shield)  # runs first: a second Ctrl-C must not cut the closing short
            if live is not None:
                self._read_live(live, sinks)
            else:
                self._read_files(media, sinks)
        if not self.settings.quiet:
            self.messages.say(self.summary.line())
        return self.summary

    def _write_summary(self) -> None:
        with self.guard.deferred():
            try:
                write_summary(self.settings.summary_path, self._summaries)
            except OSError as err:
                raise OutputError(f"cannot write --summary {self.settings.summary_path}: {err.strerror or err}") from None

    def _plan(self) -> list[MediaFile]:
        """The files to read, checked before any output file is created."""
        kind = self.source.kind
        if kind.is_live:
            media = []
        elif kind in (SourceKind.PICTURE, SourceKind.VIDEO):
            media = [named_file(self.source, self.capture_factory)]
        else:
            media, others = listed_files(self.source, self.settings, self.messages)
            self.summary.ignored = [str(p) for p in others]
        self.summary.has_pictures = any(not m.is_video for m in media)
        self.summary.has_frames = kind.is_live or any(m.is_video for m in media)
        if self.settings.save_dir is not None:
            self._targets = save_targets(self.settings.save_dir, media)
            check_save_folder(self.settings.save_dir, media, self._targets)
            longer = [f"{m.relative} -> {self._targets[m.path].name}" for m in media
                      if self._targets[m.path] != save_path(self.settings.save_dir, m)]
            if longer and not self.settings.quiet:
                self.messages.say(f"annotated copies that would share a name get longer ones: {_some(longer)}")
        return media

    def _resume(self, media: list[MediaFile]) -> list[MediaFile]:
        """The files still to read; the outputs keep each picture once (see app/resume.py)."""
        plan = plan_resume(self.settings.jsonl_path, [self.settings.csv_path, self.settings.grid_csv_path], media)
        left = [m for m in media if str(m.path) not in plan.done]
        self.summary.already = len(media) - len(left)
        if not self.settings.quiet and (self.summary.already or plan.dropped):
            dropped = f"; dropped {_count(plan.dropped, 'record')} to read again" if plan.dropped else ""
            self.messages.say(f"resuming: {_count(self.summary.already, 'picture')} of {len(media)} read before"
                              f"{dropped}")
        return left

    def _save_path(self, item: MediaFile) -> Path | None:
        return self._targets[item.path] if self.settings.save_dir is not None else None

    # -- pictures and video files ---------------------------------------------------------------
    def _read_files(self, media: list[MediaFile], sinks: Sinks) -> None:
        single = self.source.kind in (SourceKind.PICTURE, SourceKind.VIDEO)
        pictures = sum(not m.is_video for m in media)
        with self._picture_reader(pictures) as reader:
            start = 0
            while start < len(media) and not self.summary.stopped_by_user:
                if media[start].is_video:
                    self._read_video(media[start], sinks, single)
                    start += 1
                    continue
                end = start  # a run of consecutive pictures goes to the pool in one go
                while end < len(media) and not media[end].is_video:
                    end += 1
                self._read_pictures(reader, media[start:end], sinks, single)
                start = end

    def _picture_reader(self, pictures: int):
        """The local worker pool, or with --cluster the Ray pipeline (imported only then)."""
        if self.settings.cluster is None:
            return PictureReader(self.spec, self.settings.workers, self.recognizer, expected_jobs=pictures)
        from .cluster import ClusterReader
        return ClusterReader(self.settings.cluster, self.spec, self.settings.workers,
                             None if self.settings.quiet else self.messages, expected_jobs=pictures)

    def _read_pictures(self, reader: PictureReader, pictures: list[MediaFile], sinks: Sinks, single: bool) -> None:
        jobs = [PictureJob(m.path, self.settings.rotate, self._save_path(m), keep_annotated=self.viewer is not None,
                           labels=self.settings.labels) for m in pictures]
        stamps = {m.path: FileStamp.of(m.path) for m in pictures}  # before reading: a file changed meanwhile is read again
        outcomes = reader.read(jobs, starting=self._note_if_large)
        with tqdm(total=len(jobs), unit="picture", file=self.stderr or sys.stderr,
                  disable=self.settings.quiet or len(jobs) <= 1, leave=False) as bar:
            for outcome in outcomes:
                bar.update()
                name = str(outcome.job.path)
                if outcome.output_error:
                    raise OutputError(outcome.output_error)
                if outcome.error and single:  # the one picture named on the command line: nothing else to do
                    raise SourceError(f"cannot read picture {name}: {outcome.error}; check the file")
                if outcome.error:
                    self.summary.skipped.append((name, outcome.error))
                    self.messages.say(f"skipped {name}: {outcome.error}")
                    continue
                result = Result(name, 0, None, outcome.reading, stamps.get(outcome.job.path))
                with self.guard.deferred():  # every output gets the picture, or none does
                    sinks.write(result)
                self.summary.pictures += 1
                self.summary.add(result)
                if self.viewer is not None and self.viewer.show(outcome.annotated, name, 0, wait_ms=0):
                    return

    def _note_if_large(self, job: PictureJob) -> None:
        """A picture that takes seconds to read is said to, so that a long pause is not taken for a hang.
        (Reading it at a reduced scale would be faster but lose the small digits of a large scan.)"""
        size = None if self.settings.quiet else declared_size(job.path)
        if size is not None and size[0] * size[1] >= LARGE_PICTURE_PIXELS:
            self.messages.say(f"reading {job.path}, a {size[0] * size[1] / 1e6:.0f} MP picture ({size[0]} x "
                              f"{size[1]}): this takes a few seconds")

    def _read_video(self, item: MediaFile, sinks: Sinks, single: bool) -> None:
        try:
            video = VideoFrames(item.path, self.settings.every, self.settings.max_frames, self.settings.rotate,
                                self.capture_factory)
        except SourceError as err:
            if single:
                raise
            self.summary.skipped.append((str(item.path), str(err)))
            self.messages.say(f"skipped {item.path}: {str(err).split(';')[0]}")
            return
        writer = VideoWriter(self._save_path(item), video.fps) if self.settings.save_dir is not None else None
        try:
            self.summary.videos += 1
            with tqdm(total=video.expected_outputs, unit="frame", file=self.stderr or sys.stderr,
                      disable=self.settings.quiet or not video.expected_outputs, leave=False,
                      desc=item.path.name) as bar:
                self._read_frames(video, str(item.path), sinks, writer, live=False, bar=bar,
                                  frames_left=lambda f: (video.frame_count or f.index + video.every) - f.index)
            if video.ended_early:
                self.messages.say(f"{item.path} breaks off after frame {video.decoded} of {video.frame_count} "
                                  "(damaged or truncated); kept what was decoded")
        finally:
            with self.guard.deferred():
                if writer is not None:
                    writer.close()
                video.close()

    # -- cameras and streams ----------------------------------------------------------------------
    def _read_live(self, reader: LatestFrameReader, sinks: Sinks) -> None:
        writer = None
        if self.settings.save_dir is not None:
            writer = VideoWriter(self.settings.save_dir / f"{live_stem(self.source)}_{time.strftime('%Y%m%d-%H%M%S')}.mp4",
                                 reader.fps)
        try:
            self._read_frames(reader.frames(), self.source.spec, sinks, writer, live=True)
            if reader.end_reason and not self.summary.stopped_by_user and (
                    self.settings.max_frames is None or self.summary.frames < self.settings.max_frames):
                self.messages.say(f"{reader.end_reason}; ending the run")
        finally:
            with self.guard.deferred():
                if writer is not None:
                    writer.close()

    # -- frames of either ------------------------------------------------------------------------
    def _read_frames(self, frames: Iterable[Frame], name: str, sinks: Sinks, writer: VideoWriter | None,
                     live: bool, bar=None, frames_left=None) -> None:
        meter = FpsMeter()
        previous_index = None
        processed = 0
        # One stabilizer per video or camera, so the overlay and the records carry a steady reading:
        # page-level fusion (the default), or digits tracked in the frame (--steady track); --raw
        # reads every frame on its own.
        if self.settings.raw:
            stabilizer = None
        elif self.settings.steady == "track":
            stabilizer = Stabilizer(TrackSettings(min_confidence=self.recognizer.min_confidence))
        else:
            stabilizer = PageFusion(FusionSettings(min_confidence=self.recognizer.min_confidence))
        collector = None
        if self.settings.summary_path:  # page fusion lists its pages; otherwise the distinct texts seen
            collector = PageSummary(stabilizer) if isinstance(stabilizer, PageFusion) else SummaryCollector()
            self._summaries[name] = collector
        grid_fusion = GridFusion()  # one per video or camera, like the stabilizer
        layouts = LayoutCache()  # and the overlay's layout, moved with the digits from frame to frame
        for frame in frames:
            reading = self._read_frame(frame, stabilizer, grid_fusion, collector)
            fps = meter.tick()
            result = Result(name, frame.index, frame.time_s, reading)
            annotated = None
            if writer is not None or self.viewer is not None:
                # the rate is shown live; a video file's annotated copy shows only the readings
                annotated = draw(frame.image, reading, fps=fps if (live or self.viewer is not None) else None,
                                 labels=self.settings.labels, copy=False, cache=layouts)  # frame not used again
            # A frame's record and its annotated video frame are written as one: an interrupt between
            # them would leave a JSONL line without its frame in the saved video.
            with self.guard.deferred():
                sinks.write(result)
                if writer is not None:
                    writer.write(annotated, self._frame_repeat(frame, previous_index, live, frames_left))
            self.summary.frames += 1
            self.summary.add(result)
            processed += 1
            if bar is not None:
                bar.update()
            if self.viewer is not None and self.viewer.show(annotated, name, frame.index, wait_ms=1):
                return
            previous_index = frame.index
            if self.settings.max_frames is not None and processed >= self.settings.max_frames:
                return

    def _read_frame(self, frame: Frame, stabilizer: Stabilizer | PageFusion | None, grid_fusion: GridFusion,
                    collector: SummaryCollector | PageSummary | None) -> Reading:
        """One frame through the recognizer, the stabilizer (unless --raw) and the --summary collector."""
        # page fusion holds the polarity of the page in view (a shadow must not flip a frame)
        # and a video showing a grid has it searched for first (not read as a page up to its web)
        reading = self.recognizer.recognize(frame.image, inverted=getattr(stabilizer, "inverted", None),
                                            grids_expected=grid_fusion.holds_grids)
        if stabilizer is not None:
            grids = reading.grids
            reading = stabilizer.update(frame.image, reading, frame.time_s)
            reading.grids = grid_fusion.update(grids)  # each grid's cells read over the frames
        if collector is not None:
            collector.add(reading.text, frame.time_s)
        return reading

    def _frame_repeat(self, frame: Frame, previous_index: int | None, live: bool, frames_left) -> int:
        """How many frames of the saved video one annotated frame fills: the frames it stands for (the
        --every stride, or camera frames dropped while reading), so the file keeps the source's rate and timing."""
        if live:
            return 1 if previous_index is None else frame.index - previous_index
        return max(1, min(self.settings.every, frames_left(frame)))


# -- what to read, checked before any output file is created -------------------------------------

def named_file(source: Source, capture_factory: CaptureFactory) -> MediaFile:
    """The one picture or video named on the command line."""
    is_video = source.kind is SourceKind.VIDEO
    if is_video:  # a video that cannot be opened is bad input: fail before writing
        VideoFrames(source.path, capture_factory=capture_factory).close()
    return MediaFile(source.path, is_video, Path(source.path.name))


def listed_files(source: Source, settings: RunSettings, messages: Messages) -> tuple[list[MediaFile], list[Path]]:
    """The pictures and videos of a folder or glob, and the other files there (named unless --quiet)."""
    kind = source.kind
    listing = list_media(source, settings.recursive)
    media = listing.media
    save_dir = settings.save_dir.resolve() if settings.save_dir is not None else None
    if save_dir is not None and save_dir != listing.root.resolve():
        # --save into a subfolder of SOURCE: a rerun must not read the last run's annotated copies
        media = [m for m in media if save_dir not in m.path.resolve().parents]
    if not media:
        where = "match" if kind is SourceKind.GLOB else "are in"
        hint = "" if settings.recursive or kind is SourceKind.GLOB else " (add --recursive to look in subfolders)"
        raise SourceError(f"no pictures or videos {where} {source.spec}{hint}; {_formats_hint()}")
    if listing.others and not settings.quiet:
        messages.say(f"ignoring {_count(len(listing.others), 'file')} that are neither pictures nor videos: "
                     f"{_shown(listing.others, source)}")
    if listing.repeated and not settings.quiet:
        messages.say(f"not following {_count(len(listing.repeated), 'link')} to a folder listed already "
                     f"(a loop, or a second name for it): {_shown(listing.repeated, source)}")
    return media, listing.others


def _shown(paths: list[Path], source: Source) -> str:
    """The first few of ``paths`` (below a folder SOURCE: relative to it), and how many more."""
    return _some([str(p.relative_to(source.path)) if source.kind is SourceKind.FOLDER else str(p) for p in paths])


def _some(names: list[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def check_save_folder(save_dir: Path, media: list[MediaFile], targets: dict[Path, Path]) -> None:
    """--save DIR (and each subfolder a copy goes to) is made and tried now, not after the first picture
    or video frame was read; no input may be its own annotated copy, and no copy's name a folder."""
    check_writable(save_dir, "--save")
    for folder in dict.fromkeys(target.parent for target in targets.values()):
        check_writable(folder, "--save")
    for item in media:
        target = targets[item.path]
        if target.exists() and target.resolve() == item.path.resolve():
            raise OutputError(f"--save {save_dir} would overwrite {item.path} with its annotated copy; "
                              "choose another folder")
        if target.is_dir():
            raise OutputError(f"--save {save_dir}: the annotated copy of {item.path} would be {target}, which is "
                              "a folder; choose another --save folder")


def save_targets(save_dir: Path, media: list[MediaFile]) -> dict[Path, Path]:
    """Each input's annotated copy, no two the same. A copy keeps the input's name, or changes only its
    extension (a video becomes .mp4, WebP .jpg); when two inputs would share a name (clip.avi and
    clip.mp4 both as clip.mp4), the one whose name stays (clip.mp4) has it, and the other keeps its own
    extension before the new one (clip.avi.mp4); a name taken even so gets -2, -3... before it."""
    preferred = {item.path: save_path(save_dir, item) for item in media}
    keeps_name = [item for item in media if preferred[item.path].name == item.path.name]
    targets: dict[Path, Path] = {}
    taken: set[Path] = set()
    for item in keeps_name + [item for item in media if item not in keeps_name]:
        target = preferred[item.path]
        if target in taken:
            target = target.with_name(item.path.name + target.suffix)
        stem, number = target.name[:-len(target.suffix)] if target.suffix else target.name, 2
        while target in taken:
            target = target.with_name(f"{stem}-{number}{target.suffix}")
            number += 1
        targets[item.path] = target
        taken.add(target)
    return {item.path: targets[item.path] for item in media}


def save_path(save_dir: Path, item: MediaFile) -> Path:
    """Where --save puts a picture's or video's annotated copy."""
    if item.is_video:
        return save_dir / item.relative.with_suffix(".mp4")
    return annotated_picture_path(save_dir, item.relative)


@dataclass
class Viewer:
    """The --show window: shows each picture or frame and answers the keys (quit, pause, snapshot)."""
    window: object
    source: Source
    save_dir: Path | None
    summary: Summary
    messages: Messages
    snapshots: int = 0

    def show(self, annotated, name: str, frame: int, wait_ms: int) -> bool:
        """Shows a picture or frame; True when the user asked to quit."""
        key = self.window.show(annotated, wait_ms)
        while True:
            if key is Key.QUIT:
                self.summary.stopped_by_user = True
                return True
            if key is Key.SNAPSHOT:
                self._snapshot(annotated, name, frame)
            if key is Key.PAUSE and wait_ms > 0:
                key = self.window.wait(50)
                while key not in (Key.PAUSE, Key.QUIT):  # paused: space resumes, q quits, s still saves
                    if key is Key.SNAPSHOT:
                        self._snapshot(annotated, name, frame)
                    key = self.window.wait(50)
                if key is Key.QUIT:
                    continue
            return False

    def _snapshot(self, annotated, name: str, frame: int) -> None:
        folder = self.save_dir or Path(".")
        self.snapshots += 1
        stem = live_stem(self.source) if self.source.kind.is_live else Path(name).stem
        path = folder / f"snapshot_{stem}_{frame:06d}_{self.snapshots}.png"
        write_picture(path, annotated)
        self.messages.say(f"saved snapshot {path}")


def live_stem(source: Source) -> str:
    """The name of a camera's or stream's saved video and snapshots."""
    return f"camera{source.camera_index}" if source.kind is SourceKind.CAMERA else "stream"


def _formats_hint() -> str:
    return "pictures are jpg, png, bmp, tiff, webp (and other formats OpenCV reads), videos mp4, avi, mov, mkv, webm"
