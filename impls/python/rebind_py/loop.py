"""A small single-threaded event loop: readiness callbacks on sockets, and timers.

Why not asyncio: a process of this implementation forks (``os.fork()``, the seed's EMU_FORK) while
it runs. ``selectors.PollSelector`` keeps no state in the kernel, so a forked child can simply drop
the parent's loop and start its own, without touching registrations the parent still uses (an
epoll descriptor would be shared by both processes after the fork).

    loop = Loop()
    loop.add_reader(sock, on_readable)
    timer = loop.call_later(2.0, on_timeout)   # seconds
    timer.cancel()
    loop.run()                                 # until loop.stop()

@module
"""
import heapq
import itertools
import selectors
import sys
import time
import traceback
from collections import deque


class Timer:
    """A pending call; ``cancel()`` makes sure it never runs."""

    __slots__ = ('when', 'callback', 'cancelled')

    def __init__(self, when, callback):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Loop:
    def __init__(self):
        self.selector = selectors.PollSelector()
        self._timers = []
        self._sequence = itertools.count()
        self._soon = deque()
        self._callbacks = {}   # fileobj -> [on_readable, on_writable]
        self._running = False

    # -- sockets ------------------------------------------------------------------------------

    def _update(self, fileobj):
        reader, writer = self._callbacks.get(fileobj, (None, None))
        events = (selectors.EVENT_READ if reader else 0) | (selectors.EVENT_WRITE if writer else 0)
        registered = fileobj in self.selector.get_map()
        if events == 0:
            self._callbacks.pop(fileobj, None)
            if registered:
                self.selector.unregister(fileobj)
        elif registered:
            self.selector.modify(fileobj, events)
        else:
            self.selector.register(fileobj, events)

    def add_reader(self, fileobj, callback):
        self._callbacks.setdefault(fileobj, [None, None])[0] = callback
        self._update(fileobj)

    def remove_reader(self, fileobj):
        if fileobj in self._callbacks:
            self._callbacks[fileobj][0] = None
            self._update(fileobj)

    def add_writer(self, fileobj, callback):
        self._callbacks.setdefault(fileobj, [None, None])[1] = callback
        self._update(fileobj)

    def remove_writer(self, fileobj):
        if fileobj in self._callbacks:
            self._callbacks[fileobj][1] = None
            self._update(fileobj)

    def forget(self, fileobj):
        """Drops every callback of a socket (before it is closed)."""
        if fileobj in self._callbacks:
            self._callbacks[fileobj] = [None, None]
            self._update(fileobj)

    # -- time ---------------------------------------------------------------------------------

    @staticmethod
    def now():
        return time.monotonic()

    def call_later(self, seconds, callback):
        timer = Timer(self.now() + max(0.0, seconds), callback)
        heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        return timer

    def call_soon(self, callback):
        self._soon.append(callback)

    # -- running ------------------------------------------------------------------------------

    def stop(self):
        self._running = False

    @staticmethod
    def _run_one(callback, *args):
        try:
            callback(*args)
        except Exception:  # a bug in one callback must not stop the process; BaseException does
            traceback.print_exc(file=sys.stderr)

    def run(self):
        self._running = True
        while self._running:
            while self._soon and self._running:
                self._run_one(self._soon.popleft())
            timeout = None
            if self._soon:
                timeout = 0
            elif self._timers:
                timeout = max(0.0, self._timers[0][0] - self.now())
            events = self.selector.select(timeout) if self._callbacks else (time.sleep(timeout if timeout is not None else 0.05) or [])
            for key, mask in events:
                callbacks = self._callbacks.get(key.fileobj)
                if callbacks is None:
                    continue
                if mask & selectors.EVENT_READ and callbacks[0] is not None:
                    self._run_one(callbacks[0])
                callbacks = self._callbacks.get(key.fileobj)
                if callbacks is not None and mask & selectors.EVENT_WRITE and callbacks[1] is not None:
                    self._run_one(callbacks[1])
            now = self.now()
            while self._timers and self._timers[0][0] <= now:
                _, _, timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    timer.cancelled = True
                    self._run_one(timer.callback)
