"""The ``livedigits`` command: a thin layer of argument parsing and error reporting over the run.

    livedigits SOURCE [options]                     read a camera, video, picture, folder or glob
    livedigits eval FOLDER [--labels labels.csv]    score readings against labels
    livedigits serve [options]                      the web page and JSON API (livedigits.app.web)

Bad input never shows a traceback: one line ``livedigits: error: <what is wrong>; <what to do>`` on
stderr and exit status 2. Ctrl-C and SIGTERM end the run with 130/143 after closing every output.
"""
from __future__ import annotations

import argparse
import importlib
import io
import math
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Callable, TextIO

import cv2
from tqdm import tqdm

from .. import __version__, _quiet_start
from ..classify import available_cores
from ..classify import ModelError
from ..pipeline import DEFAULT_MIN_CONFIDENCE, Recognizer
from ..strings import READERS
from ..sources import ROTATIONS, CaptureFactory, SourceError, detect_source
from . import display
from .batch import PictureReader, RecognizerSpec
from .evaluate import evaluate_folder, format_scores, labelled_pictures, write_report
from .interrupts import InterruptGuard
from .outputs import OutputError, check_writable, one_line
from .runner import Messages, Run, RunSettings

PROG = "livedigits"
MODEL_ENV = "LIVEDIGITS_MODEL"  # default for --model, e.g. to try a freshly trained model everywhere
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command killed by SIGPIPE

RUN_EPILOG = """\
SOURCE kinds (recognised from SOURCE itself):
  0, 1, ...            camera index (live: the newest frame is always the one read)
  rtsp://... http://   live stream
  clip.mp4             video file (mp4, avi, mov, mkv, webm, ...)
  scan.jpg             picture (jpg, png, bmp, tiff, webp, ...; EXIF orientation honoured)
  scans/               folder of pictures and videos (--recursive for subfolders)
  'scans/*.jpg'        glob, quoted so that livedigits expands it ('scans/**/*.jpg' reaches subfolders)

what comes out:
  stdout      one line per picture: source<TAB>text (a picture's lines joined by a space);
              video and camera frames print source#frame<TAB>text when the steady text changes
              (nothing until digits are read; an empty text when they leave the view).
              Tabs, newlines and other control characters in names print as \\t, \\n, \\xNN.
  --csv       one row per digit: source,frame,time_s,x,y,w,h,digit,confidence,line,track
              (line: the digit's line in reading order, from 0; track: on a video or camera, the
              steady track the digit belongs to; empty for pictures and with --raw)
  --jsonl     one record per picture or frame: source, frame, time_s, text, digits, grids
              (digits read in a grid also have row and col; grids: rows, columns, corners, cells)
  --grid-csv  every grid found, one line per grid row: source,frame,grid,row, then its cells
              ("" empty, "7" a digit, "1 4 7" small candidate digits)
  --save      annotated pictures keep their name and format (WebP is saved as .jpg: 20-150 times
              faster); videos and cameras become .mp4; two inputs that would share a name (clip.avi,
              clip.mp4) keep both: clip.mp4 and clip.avi.mp4
  Boxes are in pixels of the picture as read (after EXIF orientation and --rotate).
  FILE may be - for stdout (the tab-separated lines are then left out).

--show keys: q or Esc quits, space pauses, s saves a snapshot (into --save DIR, else here).

Other commands:
  livedigits eval FOLDER [--labels FILE] [--report DIR]   score a labelled folder (see: livedigits eval -h)
  livedigits serve [--host H] [--port N]                  the web page and JSON API (see: livedigits serve -h)

exit status: 0 done, 2 bad input (message on stderr), 130/143 interrupted by Ctrl-C/SIGTERM.
"""


def main(argv: list[str] | None = None, *, capture_factory: CaptureFactory | None = None,
         window_factory: Callable[[], object] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Entry point of the console script and ``python -m livedigits``; returns the exit status.
    ``capture_factory`` and ``window_factory`` replace cv2.VideoCapture and the OpenCV window (tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our own messages say what failed
    _quiet_start.release()  # the quiet ending of the imports hands over to the guard
    guard = InterruptGuard().install()  # from the start: SIGTERM while the model loads is handled too
    try:
        if argv[:1] == ["eval"]:
            return eval_command(argv[1:], guard, stdout, stderr)
        if argv[:1] == ["serve"]:
            guard.restore()  # the web server handles its own signals
            return serve_command(argv[1:], stderr)
        return run_command(argv, guard, capture_factory or cv2.VideoCapture, window_factory, stdout, stderr)
    except KeyboardInterrupt:  # before anything was read: nothing to keep
        stderr.write(f"\n{PROG}: interrupted\n")
        return guard.exit_status
    except BrokenPipeError:
        # the reader of stdout went away (e.g. `| head`): stop quietly; point stdout at /dev/null so that
        # the interpreter's final flush does not raise again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return EXIT_BROKEN_PIPE
    finally:
        guard.restore()


def _os_problem(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""
    return f"cannot use{where}: {err.strerror or err}; check that it exists and that you may read (or write) it"


def fail(message: str, stderr: TextIO) -> int:
    stderr.write(f"{PROG}: error: {one_line(message)}\n")
    stderr.flush()
    return EXIT_BAD_INPUT


def load_recognizer(model: str | None, min_confidence: float, reader: str = "auto") -> Recognizer:
    """The Recognizer; its classifier checks the model on one blank crop as it loads, so a model
    that cannot read digit crops fails here with one line, not on the first frame."""
    try:
        return Recognizer(model, min_confidence=min_confidence, reader=reader)
    except ModelError as err:
        message = str(err).strip()
        hint = "pass --model PATH to a livedigits digit model (.tflite or .keras)"
        raise ModelError(message if ";" in message else f"{message}; {hint}") from None


# -- livedigits SOURCE ----------------------------------------------------------------------------

def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, usage=f"{PROG} SOURCE [options]   |   {PROG} eval FOLDER [options]   |   {PROG} serve [options]",
        description="Find and read handwritten digits in camera frames, videos, pictures and folders of scans.",
        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", metavar="SOURCE", help="camera index, video, picture, folder or quoted glob")
    out = parser.add_argument_group("output")
    out.add_argument("--show", action="store_true", help="show a window with the overlay")
    out.add_argument("--labels", choices=("full", "digit", "none"), default="full",
                     help="the overlay's label on each digit: digit and confidence where it fits (full, the "
                          "default), the digit alone, or none (boxes and each line's number only)")
    out.add_argument("--save", metavar="DIR", type=Path,
                     help="write annotated pictures, and an annotated .mp4 for videos and cameras, into DIR")
    out.add_argument("--csv", metavar="FILE", help="one row per digit (- for stdout)")
    out.add_argument("--jsonl", metavar="FILE", help="one JSON record per picture or frame (- for stdout)")
    out.add_argument("--grid-csv", metavar="FILE",
                     help="every grid found (sudoku, form boxes, table) as a table, one line per grid row (- for stdout)")
    out.add_argument("--summary", metavar="FILE",
                     help="videos and cameras: one row per page with its fused text, first and last time shown "
                          "(with --steady track or --raw: the distinct texts seen); CSV, or JSON if FILE ends in .json")
    out.add_argument("--raw", action="store_true",
                     help="videos and cameras: read every frame on its own (no tracking, no smoothing)")
    out.add_argument("--steady", choices=("page", "track"), default="page",
                     help="videos and cameras: fuse every frame's digits on the page (page, the default), or "
                          "track digits from frame to frame (track, the previous release's reading)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bars, notes or closing summary")
    _add_reading_options(parser)
    src = parser.add_argument_group("source")
    src.add_argument("-r", "--recursive", action="store_true", help="include subfolders of a folder SOURCE")
    src.add_argument("--every", metavar="N", type=_positive_int, default=1, help="read every N-th video frame")
    src.add_argument("--max-frames", metavar="N", type=_positive_int,
                     help="stop after N frames of each video or camera")
    src.add_argument("--workers", metavar="N", type=_positive_int,
                     help=f"processes reading pictures in parallel (default and most: the cores available, "
                          f"{available_cores()}; 1 reads in this process; with --cluster: actors, default one "
                          "per CPU of the cluster)")
    src.add_argument("--resume", action="store_true",
                     help="continue a run: skip the pictures its --jsonl FILE holds (same path, size and time), "
                          "append the rest to its outputs")
    src.add_argument("--cluster", metavar="ADDRESS", nargs="?", const="",
                     help="read the pictures on a Ray cluster: local (Ray on this machine), auto, ray://HOST:10001; "
                          "without ADDRESS, $RAY_ADDRESS (needs pip install \"livedigits[cluster]\")")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _add_reading_options(parser: argparse.ArgumentParser, rotate_default: int | None = 0) -> None:
    group = parser.add_argument_group("reading")
    group.add_argument("--model", metavar="PATH", default=os.environ.get(MODEL_ENV) or None,
                       help=f".tflite or .keras model (default: ${MODEL_ENV}, else the shipped models/digits.tflite)")
    group.add_argument("--min-confidence", metavar="P", type=_probability, default=DEFAULT_MIN_CONFIDENCE,
                       help="drop digits read with a lower confidence (0-1, default %(default)s)")
    group.add_argument("--reader", choices=READERS, default="auto",
                       help="digits: cut lines into digits and classify each; strings: read every line with the "
                            "string reader (touching digits, separators); auto (default): the string reader reads "
                            "the lines cut-and-classify finds doubtful, and the likelier reading is kept")
    group.add_argument("--rotate", type=int, choices=sorted(ROTATIONS), default=rotate_default,
                       help="turn pictures and frames counter-clockwise by this many degrees first "
                            "(for sideways photos)")


def capped_workers(asked: int, quiet: bool, messages: Messages) -> int:
    """--workers, at most one process per core available: more only cost memory (each holds a model)."""
    cores = available_cores()
    if asked <= cores:
        return asked
    if not quiet:
        messages.say(f"--workers {asked} is more than the {cores} cores available; using {cores}")
    return cores


def number_in(kind: type, low: float, high: float | None = None, what: str | None = None):
    """An argparse ``type`` accepting a number of ``kind`` from ``low`` to ``high`` (None: no top)."""
    what = what or (f"a number between {low} and {high}" if high is not None else f"{low} or more")

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = number_in(int, 1, what="a whole number, 1 or more")
_probability = number_in(float, 0.0, 1.0, what="a number between 0 and 1")


def _parse(parser: argparse.ArgumentParser, argv: list[str], stdout: TextIO, stderr: TextIO):
    """Parsed arguments, or the exit status argparse chose (0 for --help, 2 for a usage error); its
    help and messages go to the command's ``stdout`` and ``stderr``."""
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            return parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def run_command(argv: list[str], guard: InterruptGuard, capture_factory: CaptureFactory, window_factory,
                stdout: TextIO, stderr: TextIO) -> int:
    args = _parse(run_parser(), argv, stdout, stderr)
    if isinstance(args, int):
        return args
    try:
        source = detect_source(args.source)
    except SourceError as err:
        return fail(str(err), stderr)
    except OSError as err:
        return fail(_os_problem(err), stderr)
    problem = _resume_or_cluster_problem(args, source)
    if problem:
        return fail(problem, stderr)
    if args.show and window_factory is None:
        problem = display.gui_problem()
        if problem:
            return fail(problem, stderr)
        window_factory = display.Window
    files = (("--csv", args.csv), ("--jsonl", args.jsonl), ("--grid-csv", args.grid_csv))
    to_stdout = [name for name, value in files if value == "-"]
    if len(to_stdout) > 1:
        return fail(f"{' and '.join(to_stdout)} cannot both go to stdout (-); give one of them a file name", stderr)
    named = [(name, Path(value).resolve()) for name, value in files if value and value != "-"]
    for i, (name, path) in enumerate(named):
        same = [other for other, other_path in named[i + 1:] if other_path == path]
        if same:
            return fail(f"{name} and {same[0]} name the same file; give them different names", stderr)
    if source.kind.is_live and args.every != 1:
        stderr.write(f"{PROG}: note: --every applies to video files; a camera is read as fast as frames are "
                     "processed\n")
    try:
        recognizer = load_recognizer(args.model, args.min_confidence, args.reader)
    except ModelError as err:
        return fail(str(err), stderr)
    if args.cluster is not None:
        workers = args.workers  # actors on the cluster: its CPUs, not this machine's cores
    else:
        workers = capped_workers(args.workers or available_cores(), args.quiet, Messages(stderr))
    settings = RunSettings(rotate=args.rotate, every=args.every, max_frames=args.max_frames, workers=workers,
                           recursive=args.recursive, quiet=args.quiet, save_dir=args.save, csv_path=args.csv,
                           jsonl_path=args.jsonl, grid_csv_path=args.grid_csv, show=args.show, raw=args.raw,
                           steady=args.steady, summary_path=args.summary, labels=args.labels, resume=args.resume,
                           cluster=args.cluster)
    run = Run(source, settings, RecognizerSpec(args.model, args.min_confidence, args.reader), recognizer, guard,
              capture_factory=capture_factory, window_factory=window_factory, stdout=stdout, stderr=stderr)
    try:
        run.execute()
    except (SourceError, OutputError, display.DisplayError, ModelError) as err:
        return fail(str(err), stderr)
    except BrokenPipeError:
        raise
    except OSError as err:  # a folder that cannot be listed, a disk that fills up...
        return fail(_os_problem(err), stderr)
    except KeyboardInterrupt:
        stderr.write(f"\n{PROG}: interrupted; the outputs hold complete records for the {run.summary.done()} "
                     "read so far\n")
        return guard.exit_status
    return 0


def _resume_or_cluster_problem(args, source) -> str | None:
    """What is wrong with --resume or --cluster for this SOURCE, before anything is read."""
    if args.resume:
        if not args.jsonl or args.jsonl == "-":
            return ("--resume reads what was done from the run's --jsonl FILE (a CSV has no row for a picture "
                    "without digits); give the same --jsonl FILE as the run it continues")
        if source.kind.is_live:
            return "--resume continues a run over pictures and videos; a camera or stream has nothing to resume"
    if args.cluster is not None:
        if source.kind.is_live:
            return "--cluster reads pictures from a folder, glob or list; read a camera or stream without it"
        if args.show:
            return "--show cannot be used with --cluster (the pictures are read elsewhere); use --save DIR"
        from .cluster import ClusterError, check_ray
        try:
            check_ray(args.cluster)
        except ClusterError as err:
            return str(err)
    return None


# -- livedigits eval ------------------------------------------------------------------------------

def eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} eval", description="Read every picture listed in a labels file and score the readings: "
        "exact-match rate, character error rate (edit distance over label length) and per-digit accuracy.",
        epilog="labels.csv has the columns relative_path,label (label: the picture's digits in reading order, "
               "lines concatenated); a column rotate_ccw_deg_to_upright turns each picture unless --rotate is given.")
    parser.add_argument("folder", metavar="FOLDER", type=Path, help="folder the relative paths start from")
    parser.add_argument("--labels", metavar="FILE", type=Path, help="labels CSV (default: FOLDER/labels.csv)")
    parser.add_argument("--report", metavar="DIR", type=Path,
                        help="write confusion_matrix.png and errors.csv (path,expected,got) into DIR")
    parser.add_argument("--workers", metavar="N", type=_positive_int, default=available_cores(),
                        help="processes reading pictures in parallel (default and most: the cores available, "
                             "%(default)s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes")
    _add_reading_options(parser, rotate_default=None)
    return parser


def eval_command(argv: list[str], guard: InterruptGuard, stdout: TextIO, stderr: TextIO) -> int:
    args = _parse(eval_parser(), argv, stdout, stderr)
    if isinstance(args, int):
        return args
    if not args.folder.is_dir():
        what = "is not a folder" if args.folder.exists() else "does not exist"
        return fail(f"{args.folder} {what}; give the folder that labels.csv's relative paths start from", stderr)
    labels = args.labels or args.folder / "labels.csv"
    try:
        items = labelled_pictures(labels, args.rotate)
    except SourceError as err:
        return fail(str(err), stderr)
    if not items:
        return fail(f"{labels} lists no pictures; add rows of relative_path,label", stderr)
    try:
        if args.report:  # made and tried now: a long evaluation must not end in a report it cannot write
            check_writable(args.report, "--report")
        recognizer = load_recognizer(args.model, args.min_confidence, args.reader)
    except (ModelError, OutputError) as err:
        return fail(str(err), stderr)
    messages = Messages(stderr)
    workers = capped_workers(args.workers, args.quiet, messages)
    try:
        with PictureReader(RecognizerSpec(args.model, args.min_confidence, args.reader), workers, recognizer,
                           expected_jobs=len(items)) as reader, \
                tqdm(total=len(items), unit="picture", file=stderr, disable=args.quiet, leave=False) as bar:
            result = evaluate_folder(args.folder, items, reader,
                                     on_skip=lambda path, why: messages.say(f"skipped {path}: {why}"),
                                     progress=bar.update)
        stdout.write(format_scores(result) + "\n")
        stdout.flush()
        if args.report:
            try:
                paths = write_report(result, args.report, title=args.folder.name or str(args.folder))
            except (OSError, OutputError) as err:
                return fail(f"cannot write the report into {args.report}: {err}; choose another --report folder",
                            stderr)
            if not args.quiet:
                messages.say("wrote " + " and ".join(str(p) for p in paths))
    except KeyboardInterrupt:
        stderr.write(f"\n{PROG}: interrupted; nothing scored\n")
        return guard.exit_status
    return 0


# -- livedigits serve -----------------------------------------------------------------------------

def serve_command(argv: list[str], stderr: TextIO) -> int:
    """Hands over to livedigits.app.web, imported only here: the web app's dependencies stay optional."""
    try:
        web = importlib.import_module(f"{__package__}.web")
    except ModuleNotFoundError as err:
        if err.name not in (f"{__package__}.web", None):
            return fail(f"the web app needs {err.name}, which is not installed; pip install {err.name}", stderr)
        return fail("this installation has no web app (livedigits.app.web); update livedigits to use 'serve'", stderr)
    entry = getattr(web, "main", None)
    if entry is None:
        return fail("livedigits.app.web has no main(); update livedigits to use 'serve'", stderr)
    return int(entry(argv) or 0)
