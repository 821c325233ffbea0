"""The two byte streams of a connection as one end sees them (§6.4), the application's reads and
held writes, and the handle the application holds.

Offsets count from 0 at the first byte ever sent in a direction and go on across every handoff.
``unread`` holds the bytes of the other end's stream that arrived and the application has not
read yet: the range [R, recv_offset), R being ``read_offset`` (§6.5).

@module
"""
from collections import deque

from . import trace
from .errors import RebindError

MAX_DATA = 64 * 1024   # bytes per DATA frame we send (also capped by the receiver's limit, §3.3)


class Stream:
    def __init__(self, send_offset=0, recv_offset=0):
        self.send_offset = send_offset      # next offset of our stream
        self.recv_offset = recv_offset      # bytes of the other stream received (any channel, the copy too)
        self.unread = bytearray()
        self.fin_sent = False
        self.fin_received = False
        self.readers = deque()              # (max, callback(error, data_or_None_for_end))
        self.held = []                      # writes held while our sending is stopped: (data, callback)
        self.held_fin = False               # a shutdown held likewise (§9.7)
        self.error = None                   # RebindError: the connection failed on this end
        self.ended = False                  # reads return end-of-stream: the connection moved (§6.6)

    @property
    def read_offset(self):
        """R: how far the application has read the other end's stream (§6.5)."""
        return self.recv_offset - len(self.unread)

    # -- receiving ----------------------------------------------------------------------------

    def accept(self, message):
        """DATA or FIN in order (§4.2, §4.3): the offset must be the next expected one."""
        if message['type'] == 'FIN':
            if self.fin_received:
                raise RebindError('UNEXPECTED_MESSAGE', 'a second FIN', '4.3')
            if message['offset'] != self.recv_offset:
                raise RebindError('OFFSET_MISMATCH', 'FIN at %d, expected %d' % (message['offset'], self.recv_offset), '4.3')
            self.fin_received = True
            return
        if self.fin_received or message['offset'] != self.recv_offset:
            raise RebindError('OFFSET_MISMATCH', 'DATA at %d, expected %d%s' % (
                message['offset'], self.recv_offset, ' (after FIN)' if self.fin_received else ''), '4.2')
        self.unread += message['data']
        self.recv_offset += len(message['data'])

    # -- the application's reads --------------------------------------------------------------

    def read(self, max_bytes, callback, allowed=True):
        self.readers.append((max_bytes, callback))
        self.serve(allowed)

    def serve(self, allowed=True):
        """Answers waiting reads: bytes, end-of-stream, or the failure. ``allowed`` is False while
        the role must not give its application any bytes (§6.5 after R is fixed, §6.6 before COMMIT)."""
        while self.readers:
            max_bytes, callback = self.readers[0]
            if self.ended:                       # §6.6: end-of-stream, not an error, once moved
                self.readers.popleft()
                callback(None, None)
            elif self.error is not None and not (allowed and self.unread):
                self.readers.popleft()
                callback(self.error, None)
            elif not allowed:
                return
            elif self.unread:
                n = len(self.unread) if not max_bytes else min(max_bytes, len(self.unread))
                data = bytes(self.unread[:n])
                del self.unread[:n]
                self.readers.popleft()
                callback(None, data)
            elif self.fin_received:
                self.readers.popleft()
                callback(None, None)
            else:
                return

    def end_reads(self):
        """The connection moved to another process: unread bytes went with it (§6.6)."""
        self.ended = True
        self.unread = bytearray()
        self.serve()

    def fail(self, error):
        """The connection failed here: waiting reads and held writes fail with ``error``."""
        if self.error is None:
            self.error = error
        held, self.held = self.held, []
        for _, callback in held:
            callback(self.error)
        self.serve()

    # -- sending ------------------------------------------------------------------------------

    def data_frames(self, data, limit):
        """DATA frames for an application write, advancing the send offset (§4.2, §3.3)."""
        step = max(1, min(MAX_DATA, limit - 8))
        frames = []
        for at in range(0, len(data), step):
            piece = bytes(data[at:at + step])
            frames.append({'type': 'DATA', 'offset': self.send_offset, 'data': piece})
            self.send_offset += len(piece)
        return frames

    def fin_frame(self):
        self.fin_sent = True
        return {'type': 'FIN', 'offset': self.send_offset}


class Handle:
    """What the application holds: one end of one connection. Its role object (``conn``: an
    Origin, Successor or Peer) changes when a successor becomes the owner (§6.6)."""

    def __init__(self, name, events):
        self.name = name
        self.conn = None
        self._events = events          # events(handle_name, event, fields) -> the adapter

    def emit(self, event, **fields):
        if self._events is not None:
            self._events(self.name, event, fields)

    def recv(self, max_bytes, callback):
        def done(error, data):
            if data:   # §13.1: `recv` when the application consumes bytes
                trace.action(self.conn.cid, self.conn.actor, 'recv', len=len(data), data=data)
            callback(error, data)
        self.conn.app_recv(max_bytes, done)

    def send(self, data, callback):
        trace.action(self.conn.cid, self.conn.actor, 'send', len=len(data), data=data)
        self.conn.app_send(data, callback)

    def shutdown(self, callback):
        self.conn.app_shutdown(callback)

    def close(self, callback):
        self.conn.app_close(callback)
