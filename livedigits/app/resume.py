"""--resume: a rerun with the same outputs reads only the pictures they do not hold yet.

The --jsonl file is the record of what was done: one line per picture, with the file's size and
modification time (``file_bytes``, ``file_mtime``). A picture is skipped when its line is there and the
file is unchanged; everything else is read and appended. Before appending, the outputs are put in
order, so that each picture ends up in them once, whatever stopped the last run:

- a line cut off by a kill (SIGKILL, a power cut) is dropped;
- a picture changed since it was read loses its old records and is read again;
- CSV rows (--csv, --grid-csv) of a picture without a JSONL line (the CSV files are written just
  before the JSONL: a kill may fall in between) are dropped, and the picture read again;
- a video is read again from its start, its earlier frames dropped: a cut-off video cannot be told
  from a finished one, and its steady reading needs the frames before.

The files are rewritten (to a temporary name, then renamed) only when something is dropped.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..sources import MediaFile
from .outputs import FileStamp, OutputError


@dataclass
class ResumePlan:
    done: set[str] = field(default_factory=set)  # pictures (as their records name them) not to read again
    dropped: int = 0                              # records dropped: cut off, stale, or a video's


def plan_resume(jsonl_path: str, csv_paths: list[str | None], media: list[MediaFile]) -> ResumePlan:
    """What the outputs already hold of ``media``; drops from them (the JSONL, and the CSV files whose
    first column names the picture: --csv, --grid-csv) what will be read again."""
    plan = ResumePlan()
    jsonl = Path(jsonl_path).expanduser()
    listed = {str(item.path): item for item in media}
    kept: list[str] = []
    try:
        with open(jsonl, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            for line in handle:
                record = _record(line)
                source = None if record is None else record.get("source")
                if not isinstance(source, str):
                    plan.dropped += 1  # cut off by a kill, or not a record at all
                    continue
                item = listed.get(source)
                if item is None:  # no longer in SOURCE: its record stays as it is
                    kept.append(line)
                elif item.is_video or source in plan.done or not _unchanged(record, item.path):
                    plan.dropped += 1  # read again (or recorded twice): this line goes
                else:
                    plan.done.add(source)
                    kept.append(line)
    except FileNotFoundError:
        pass  # nothing recorded yet: everything is read
    except OSError as err:
        raise OutputError(f"cannot read --jsonl {jsonl} to resume: {err.strerror or err}") from None
    if plan.dropped:
        _replace(jsonl, "".join(kept))
    # the CSV files name files as written with backslashreplace (see outputs.open_text)
    read_again = {_as_written(source) for source in listed if source not in plan.done}
    for csv_path in csv_paths:
        if csv_path and csv_path != "-":
            _rewrite_csv(Path(csv_path).expanduser(), keep=lambda source: source not in read_again, plan=plan)
    return plan


def _as_written(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _record(line: str) -> dict | None:
    if not line.endswith("\n"):
        return None  # the last line, cut off before its end
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _unchanged(record: dict, path: Path) -> bool:
    """The picture is the file that was read: same size and modification time. Records written before
    files were stamped are trusted by their path."""
    if "file_bytes" not in record:
        return True
    now = FileStamp.of(path)
    return now is not None and (record.get("file_bytes"), record.get("file_mtime")) == (now.bytes, now.mtime)


def _rewrite_csv(path: Path, keep, plan: ResumePlan) -> None:
    """Drops the CSV rows of pictures that are read again (and a row cut off by a kill)."""
    if not path.exists():
        return
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as err:
        raise OutputError(f"cannot read --csv {path} to resume: {err.strerror or err}") from None
    lines = text.splitlines(keepends=True)
    kept, dropped = lines[:1], 0
    if kept and not kept[0].endswith("\n"):
        kept, dropped = [], 1
    for line in lines[1:]:
        row = next(csv.reader(io.StringIO(line)), None) if line.endswith("\n") else None
        if row and keep(row[0]):
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        plan.dropped += dropped
        _replace(path, "".join(kept))


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.resume-partial")
    try:
        with open(partial, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot rewrite {path} to resume: {err.strerror or err}; check the folder is "
                          "writable and has space") from None
