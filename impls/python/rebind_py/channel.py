"""Framed channels over stream sockets: C1 and C2 on TCP (§11.1) and L on a Unix socketpair (§11.3).

A ``FrameChannel`` writes frames back to back and reads them with a ``codec.FrameReader``. It
tells its handler, an object with these methods, what happens:

    on_frame(channel, message)        one decoded frame
    on_decode_error(channel, error)   a malformed frame (§3.4); nothing more is read
    on_lost(channel, reason)          EOF or a socket error while the channel was open (§11.1 "lost")

Closing is graceful by default: what was sent is flushed, then the write side is shut down and
the channel drains the other end's bytes for a moment before it closes, so that a last frame
(ERROR, REFUSE) is not destroyed by a reset.

Every socket made here is remembered in ``ALL_SOCKETS``: a forked child closes its copies of the
parent's sockets (§11.1: a successor never uses the origin's C1).

@module
"""
import errno
import re
import socket
import weakref

from . import codec, trace
from .errors import RebindError

ALL_SOCKETS = weakref.WeakSet()
READ_SIZE = 256 * 1024
LINGER_S = 1.0


def remember(sock):
    ALL_SOCKETS.add(sock)
    return sock


def parse_tcp(addr, listening=False):
    """``tcp://HOST:PORT`` (§3.2, §11.1) -> (host, port). Anything else is UNREACHABLE (§9.4).
    A listening address may have port 0 (the system chooses)."""
    match = re.match(r'^tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})$', addr or '')
    if match is None or not (0 if listening else 1) <= int(match.group(2)) <= 65535:
        raise RebindError('UNREACHABLE', 'not a tcp:// address: %r' % addr, '3.2')
    return match.group(1).strip('[]'), int(match.group(2))


def listen_tcp(host, port):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = remember(socket.socket(family, socket.SOCK_STREAM))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def tcp_addr(sock):
    host, port = sock.getsockname()[:2]
    return 'tcp://%s:%d' % ('[%s]' % host if ':' in host else host, port)


def prepare(sock):
    sock.setblocking(False)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # §11.1: control frames are small
    return sock


def connect_tcp(loop, addr, on_connected, on_failed):
    """Opens a TCP connection without blocking; calls on_connected(sock) or on_failed(error)."""
    try:
        host, port = parse_tcp(addr)
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        sock = remember(socket.socket(family, socket.SOCK_STREAM))
        prepare(sock)
        result = sock.connect_ex((host, port))
    except (OSError, RebindError) as error:
        loop.call_soon(lambda: on_failed(error))
        return None
    if result not in (0, errno.EINPROGRESS):
        sock.close()
        loop.call_soon(lambda: on_failed(OSError(result, 'connect')))
        return None
    state = {'done': False}

    def writable():
        if state['done']:
            return
        state['done'] = True
        loop.forget(sock)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            sock.close()
            on_failed(OSError(err, 'connect'))
        else:
            on_connected(sock)

    loop.add_writer(sock, writable)
    return sock


class FrameChannel:
    """One transport connection carrying frames (§3) in both directions."""

    def __init__(self, loop, sock, kind, handler, limit=codec.DEFAULT_LIMIT, actor='O', other='P', cid=None):
        self.loop = loop
        self.sock = prepare(sock)
        self.kind = kind                  # 'wire' (C1/C2) or 'local' (L)
        self.handler = handler
        self.reader = codec.FrameReader(limit, kind)
        self.out = bytearray()
        self.closed = False               # no more frames in or out
        self.reading = False
        self.actor = actor                # names for trace lines (§13.1)
        self.other = other
        self.cid = cid                    # the connection's cid on a wire channel (for traces)
        self._closing = False             # flushing, then closing
        self.before_trace = None          # before_trace(message): may rename ``other`` (JOIN, §5.1)
        self._linger = None

    # -- reading ------------------------------------------------------------------------------

    def start(self):
        if not self.closed and not self.reading:
            self.reading = True
            self.loop.add_reader(self.sock, self._readable)

    def _readable(self):
        if self.closed:
            self._drain()
            return
        try:
            chunk = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lost('read failed: %s' % error)
            return
        if not chunk:
            if self.reader.end() is not None:
                self._decode_error(self.reader.error)  # §11.1: EOF inside a frame
            else:
                self._lost('end of stream')
            return
        # The good frames before a malformed one are handled first; then the error (§3.4).
        for message in self.reader.feed(chunk):
            if self.closed or not self.reading:
                return
            if self.before_trace is not None:
                self.before_trace(message)
            trace.message(self._trace_cid(message), 'receive', self.actor, self.other, message)
            self.handler.on_frame(self, message)
        if self.reader.error is not None and not self.closed and self.reading:
            self._decode_error(self.reader.error)

    def _decode_error(self, error):
        self.reading = False
        self.loop.remove_reader(self.sock)
        self.handler.on_decode_error(self, error)

    def _lost(self, reason):
        if self.closed:
            return
        self._close_now()
        self.handler.on_lost(self, reason)

    # -- writing ------------------------------------------------------------------------------

    def send(self, message):
        """Queues one frame; False if the channel is closed (the frame crossed a close, §7.5)."""
        if self.closed or self._closing:
            return False
        trace.message(self._trace_cid(message), 'send', self.actor, self.other, message)
        self.out += codec.encode(message)
        self._flush()
        return True

    def _flush(self):
        while self.out:
            try:
                sent = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                self.out.clear()
                if self._closing:
                    self._close_now()
                else:
                    self._lost('write failed: %s' % error)
                return
            del self.out[:sent]
        if self.out:
            self.loop.add_writer(self.sock, self._flush)
        else:
            self.loop.remove_writer(self.sock)
            if self._closing and not self.closed:
                self._finish_close()

    @property
    def pending(self):
        return len(self.out)

    # -- closing ------------------------------------------------------------------------------

    def close(self):
        """Flushes what was sent, then closes (linger: the other end's bytes are drained)."""
        if self.closed or self._closing:
            return
        self._closing = True
        self.reading = False
        self._flush()

    def _finish_close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close_now()
            return
        self.loop.add_reader(self.sock, self._readable)
        self._linger = self.loop.call_later(LINGER_S, self._close_now)

    def _drain(self):
        try:
            chunk = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b''
        if not chunk:
            self._close_now()

    def _close_now(self):
        self.closed = True
        self._closing = False
        if self._linger is not None:
            self._linger.cancel()
        if self.sock.fileno() >= 0:
            self.loop.forget(self.sock)
            self.sock.close()

    def abort(self):
        """Closes at once, dropping what is not sent yet."""
        self.out.clear()
        self._close_now()

    def _trace_cid(self, message):
        cid = message.get('cid') if self.kind == 'local' else self.cid
        return cid
