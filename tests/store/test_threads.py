"""``hub.store.threads.OnDemandThread``: started by ``notify``, ended by ``stop`` or when
idle, started again by the next ``notify`` — unless stopped for good."""

from __future__ import annotations

import time

from hub.store.threads import OnDemandThread


class Counter(OnDemandThread):
    name = "test-on-demand"

    def __init__(self, idle: float) -> None:
        super().__init__()
        self.idle = idle
        self.passes = 0
        self.starts = 0

    def _run(self) -> None:
        self.starts += 1
        try:
            while not self._halt.is_set():
                if not self._wake.wait(self.idle):
                    if self._idle_end():
                        return
                    continue
                if self._halt.is_set():
                    return
                self._wake.clear()
                self.passes += 1
        finally:
            self._ended()


def _until(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.01)
    return False


def test_notify_starts_idle_ends_and_notify_starts_again() -> None:
    worker = Counter(idle=0.05)
    assert not worker.running
    worker.notify()
    assert _until(lambda: worker.passes >= 1)
    assert _until(lambda: not worker.running)  # idle: the thread ended
    worker.notify()
    assert _until(lambda: worker.passes >= 2)
    assert worker.starts == 2  # a new thread
    worker.stop()


def test_stop_for_good_refuses_to_start_again() -> None:
    worker = Counter(idle=10.0)
    worker.notify()
    assert _until(lambda: worker.passes >= 1)
    worker.stop(final=True)
    assert not worker.running
    worker.notify()
    time.sleep(0.05)
    assert not worker.running and worker.passes == 1
