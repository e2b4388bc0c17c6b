"""A daemon thread started on demand, per process: the store's background helpers' base.

``notify()`` wakes the thread, starting it first if this process has none — again after a
fork (the child has no thread of the parent's) or after it ended for want of work — and
``stop()`` ends it (for good with ``final``). Subclasses write ``_run`` (waiting on
``self._wake``, ending when ``self._halt`` is set) and call :meth:`_ended` as it returns.
Used by the SQLite WAL checkpointer (``hub.store.db``) and the index backlog's indexer
(``hub.store.backlog``).
"""

from __future__ import annotations

import os
import threading


class OnDemandThread:
    """The start-on-demand and stop protocol (module docstring)."""

    #: the thread's name (subclasses set it)
    name = "hub-background"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether this process's thread is alive."""
        t = self._thread
        return t is not None and self._pid == os.getpid() and t.is_alive()

    def notify(self) -> None:
        """There is work: wake the thread, starting it if this process has none."""
        self._wake.set()
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if (self._thread is None or self._pid != os.getpid()) and not self._closed:
                    self._halt.clear()
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    def stop(self, timeout: float = 5.0, *, final: bool = False) -> None:
        """End the thread and wait for it (a later ``notify`` starts another unless
        ``final``)."""
        with self._lock:
            self._closed = self._closed or final
            self._halt.set()
            thread = self._thread if self._pid == os.getpid() else None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _idle_end(self) -> bool:
        """After ``_wake`` timed out: end the thread unless work arrived meanwhile."""
        with self._lock:
            if not self._wake.is_set():
                self._thread = None  # the next notify starts another
                return True
        return False

    def _ended(self) -> None:
        """The thread's last act: forget it (if it is still this process's)."""
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None

    def _run(self) -> None:  # pragma: no cover - subclasses
        raise NotImplementedError
