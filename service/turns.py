"""First come, first served: things (worker processes, Ray slots) handed to waiting calls in
the order the calls arrived, not to whichever poller wakes first."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

Item = TypeVar("Item")

#: How often a waiting call looks at its stop signal and deadline.
POLL_SECONDS = 0.02


class _Waiter(Generic[Item]):
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.item: Item | None = None


class Turns(Generic[Item]):
    """Idle items, and the calls waiting for one, in arrival order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: deque[Item] = deque()
        self._waiting: deque[_Waiter[Item]] = deque()
        self._closed = False

    def take(self, stop: threading.Event, deadline: float | None) -> Item | None:
        """An item, once every call that came earlier has had one; None if ``stop`` is set
        or the monotonic ``deadline`` passes first."""
        with self._lock:
            if self._idle and not self._waiting:
                return self._idle.popleft()
            waiter: _Waiter[Item] = _Waiter()
            self._waiting.append(waiter)
        while not waiter.ready.wait(POLL_SECONDS):
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                with self._lock:
                    if waiter.item is None:  # not handed one meanwhile: leave the line
                        self._waiting.remove(waiter)
                        return None
                break
        return waiter.item

    def put(self, item: Item) -> bool:
        """Hand ``item`` to the longest-waiting call, or keep it idle; False once closed (the
        caller disposes of it)."""
        with self._lock:
            if self._closed:
                return False
            if self._waiting:
                waiter = self._waiting.popleft()
                waiter.item = item
                waiter.ready.set()
            else:
                self._idle.append(item)
            return True

    def close(self) -> list[Item]:
        """Stop handing out; returns the idle items (for the caller to dispose of)."""
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        return idle
