"""Ctrl-C and SIGTERM that never cut an output line in half.

Both signals raise KeyboardInterrupt, so one ``finally`` closes the writers for either. Inside
``guard.deferred()`` (writing one CSV/JSONL record, finishing a video) the signal is only noted and
raised when the block ends, so the files hold complete lines and a playable video.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    def __init__(self):
        self.received: int | None = None   # the last signal number, for the exit status (128 + n)
        self._depth = 0
        self._pending = False
        self._shielded = False
        self._previous: dict[int, object] = {}

    def install(self) -> "InterruptGuard":
        # signal handlers can only be set from the main thread (tests may run commands elsewhere)
        if threading.current_thread() is threading.main_thread():
            for number in HANDLED:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def _handle(self, number, _frame) -> None:
        self.received = number
        if self._shielded:
            return
        if self._depth:
            self._pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A block that a signal does not interrupt; a signal that came during it is raised after it."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending:
                self._pending = False
                raise KeyboardInterrupt

    def shield(self) -> None:
        """From now on signals are only noted: used while closing outputs on the way out."""
        self._shielded = True

    @property
    def exit_status(self) -> int:
        return 128 + int(self.received or signal.SIGINT)

    def __enter__(self) -> "InterruptGuard":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.restore()
