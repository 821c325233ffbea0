"""One process of the implementation: its listeners, its connections, its local channels (L), its
rebind listener when it is a successor, fork and exit.

    host = Host(loop, events)                   # events(handle_name, event, fields)
    addr, name = host.listen('tcp://127.0.0.1:0')   # accepted connections: host.on_accept(handle, name)
    host.connect('tcp://127.0.0.1:4000', 'c1', callback)   # the peer role (§7.3)
    pid = host.fork([handle])                   # in the child this raises BecomeChild (see adapter)
    host.exit(0)                                # T2: hand off, then exit (§9.3)

Establishment (§6.1): each end sends HELLO at once; the acceptor's carries a fresh random cid.
A connection becomes a handle only once both HELLOs are exchanged.

The local channel L (§11.3) is a Unix socketpair made just before ``os.fork()``: only the child
can reach it. The child's first frame on it is JOIN with its rebind listener (§5.1).

@module
"""
import os
import socket
import sys
import weakref

from . import channel as channels
from . import codec, trace
from .errors import RebindError, code_of
from .origin import Origin, TERMINAL
from .peer import Peer
from .stream import Handle, Stream
from .successor import Successor

# §9.1 defaults, in ms; `configure {timers}` changes them for later handoffs.
DEFAULT_TIMERS = {'SUSPEND': 2000, 'REBOUND': 4000, 'ABORT': 2000, 'REBIND': 4000, 'ATTACH': 2000,
                  'ARMED': 10000, 'COPY': 4000, 'COMMIT': 10000, 'NEED': 10000}
HELLO_WAIT_S = 2.0        # §6.1 step 3: an end without the other's HELLO closes C1
FIRST_FRAME_S = 2.0       # §4.7: a C2 whose first frame does not come is closed
OUR_LIMIT = codec.DEFAULT_LIMIT   # the payload limit we announce in HELLO (§3.3)


class BecomeChild(BaseException):
    """Raised in the child right after ``os.fork()``: the adapter unwinds the parent's stack and
    starts the child's own loop (a BaseException, so no callback guard swallows it)."""

    def __init__(self, link_sock, parent_pid, parent_actor, records, timers):
        super().__init__('forked child')
        self.link_sock = link_sock
        self.parent_pid = parent_pid
        self.parent_actor = parent_actor
        self.records = records            # [(handle name, connection record)]
        self.timers = timers


class Link:
    """One local channel L (§11.3): to a forked child (we are its origin) or to our parent."""

    def __init__(self, host, sock, kind, pid, actor, other):
        self.host = host
        self.kind = kind                  # 'child' or 'parent'
        self.pid = pid
        self.joined = False               # JOIN arrived (§5.1), for a child link
        self.addr = None                  # the child's rebind listener
        self.lost = False
        self.channel = channels.FrameChannel(host.loop, sock, 'local', self, actor=actor, other=other)
        host.channels.add(self.channel)
        if kind == 'child':
            self.channel.before_trace = self._before_trace
        self.channel.start()

    def _before_trace(self, message):
        # Trace names (§13.1): the child is S<port of its rebind listener>; the origin writes
        # `fork` when JOIN names it, so the merged trace has the fork before the child's lines.
        if message['type'] == 'JOIN' and not self.joined:
            self.channel.other = 'S%s' % message['addr'].rsplit(':', 1)[-1]
            trace.action(None, self.host.actor, 'fork', self.channel.other)

    def send(self, message):
        if not self.lost:
            self.channel.send(message)

    def on_frame(self, channel, message):
        self.host.on_local(self, message)

    def on_decode_error(self, channel, error):
        # §3.4 on L: close L; both processes then handle "lost L".
        self.channel.abort()
        self.on_lost(channel, str(error))

    def on_lost(self, channel, reason):
        if not self.lost:
            self.lost = True
            self.host.on_link_lost(self)


class _Establishing:
    """The channel handler until both HELLOs are exchanged (§6.1, §4.1)."""

    def __init__(self, host, channel, acceptor, cid, done):
        self.host = host
        self.channel = channel
        self.acceptor = acceptor
        self.cid = cid
        self.done = done                  # done(error, hello)
        self.timer = host.loop.call_later(HELLO_WAIT_S, self._timeout)

    def _finish(self, error, hello=None):
        self.timer.cancel()
        if self.done is not None:
            done, self.done = self.done, None
            done(error, hello)

    def _timeout(self):
        self.channel.close()
        self._finish(RebindError('TIMEOUT', 'no HELLO within 2000 ms', '6.1'))

    def on_frame(self, channel, message):
        if self.done is None:
            return
        # §4.1: HELLO first, and exactly one of the two HELLOs has the acceptor flag.
        if message['type'] != 'HELLO' or message['acceptor'] == self.acceptor:
            why = '%s before HELLO' % message['type'] if message['type'] != 'HELLO' else 'acceptor flags do not match'
            channel.send({'type': 'ERROR', 'code': code_of('UNEXPECTED_MESSAGE'), 'reason': why})
            channel.close()
            self._finish(RebindError('UNEXPECTED_MESSAGE', why, '4.1'))
            return
        self._finish(None, message)

    def on_decode_error(self, channel, error):
        channel.send({'type': 'ERROR', 'code': code_of(error.name), 'reason': ''})
        channel.close()
        self._finish(error)

    def on_lost(self, channel, reason):
        self._finish(RebindError('PEER_LOST', 'closed before HELLO: %s' % reason, '6.1'))


class _FirstFrame:
    """A C2 accepted by the rebind listener, until its first frame (§4.7, §8.2)."""

    def __init__(self, host, channel):
        self.host = host
        self.timer = host.loop.call_later(FIRST_FRAME_S, channel.close)

    def on_frame(self, channel, message):
        self.timer.cancel()
        if message['type'] != 'ATTACH':
            # §3.4, §7.5: before a valid ATTACH a stranger's C2 is closed, nothing else changes.
            channel.send({'type': 'ERROR', 'code': code_of('UNEXPECTED_MESSAGE'), 'reason': ''})
            channel.close()
            return
        successor = self.host.successors.get(message['cid'])
        if successor is None:
            # §8.2 step 1: a cid this process never held a handle for.
            channel.send({'type': 'REFUSE', 'hid': message['hid'], 'code': code_of('UNKNOWN_CONNECTION')})
            channel.close()
            return
        successor.on_attach(channel, message)

    def on_decode_error(self, channel, error):
        self.timer.cancel()
        channel.send({'type': 'ERROR', 'code': code_of(error.name), 'reason': ''})   # SHOULD (§3.4)
        channel.close()

    def on_lost(self, channel, reason):
        self.timer.cancel()


class Host:
    def __init__(self, loop, events, actor='O', timers=None):
        self.loop = loop
        self.events = events
        self.actor = actor
        self.timers = dict(timers or DEFAULT_TIMERS)
        self.channels = weakref.WeakSet()
        self.origins = {}                 # cid -> Origin: connections this process owns (or owned)
        self.successors = {}              # cid -> Successor: dormant handles from our fork
        self.children = []                # Links to forked successors
        self.parent = None                # Link to our origin, in a successor process
        self.rebind_listener = None
        self.rebind_addr = None
        self.on_accept = None             # on_accept(handle, listener name)
        self.accepted = 0
        self.listeners = {}
        self.exiting = None               # the exit code once `exit` ran (T2)

    def timer_s(self, name):
        return self.timers[name] / 1000.0

    # -- the server: listen and accept (§6.1) ---------------------------------------------------

    def listen(self, addr):
        host, port = channels.parse_tcp(addr, listening=True)
        sock = channels.listen_tcp(host, port)
        name = 'l%d' % (len(self.listeners) + 1)
        self.listeners[name] = sock
        self.loop.add_reader(sock, lambda: self._accept(sock, name))
        trace.action(None, self.actor, 'listen')
        return channels.tcp_addr(sock), name

    def _accept(self, listener, name):
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        channels.remember(sock)
        cid = os.urandom(16)             # §2.2: the acceptor's cid, from the OS's CSPRNG
        while cid == codec.ZERO_CID:
            cid = os.urandom(16)
        ch = channels.FrameChannel(self.loop, sock, 'wire', None, actor=self.actor, other='P', cid=cid)
        self.channels.add(ch)
        trace.action(cid, self.actor, 'accept', 'P')

        def established(error, hello):
            if error is not None:
                return
            self.accepted += 1
            handle = Handle('a%d' % self.accepted, self.events)
            record = {'cid': cid, 'acceptor': True, 'last_hid': 0, 'peer_limit': hello['maxPayload']}
            handle.conn = Origin(self, handle, ch, Stream(), record)
            self.origins[cid] = handle.conn
            if self.on_accept is not None:
                self.on_accept(handle, name)

        ch.handler = _Establishing(self, ch, True, cid, established)
        ch.send({'type': 'HELLO', 'fast': False, 'acceptor': True, 'cid': cid, 'maxPayload': OUR_LIMIT, 'credits': 0})
        ch.start()

    # -- the peer: connect (§6.1) -------------------------------------------------------------

    def connect(self, addr, name, callback):
        """Connects as the peer; callback(error, handle) once both HELLOs are exchanged."""

        def connected(sock):
            ch = channels.FrameChannel(self.loop, sock, 'wire', None, actor='P', other='O')
            self.channels.add(ch)

            def established(error, hello):
                if error is not None:
                    callback(error, None)
                    return
                ch.cid = hello['cid']
                handle = Handle(name, self.events)
                handle.conn = Peer(self, handle, ch, Stream(), hello['cid'], hello['maxPayload'])
                callback(None, handle)

            ch.handler = _Establishing(self, ch, False, None, established)
            # §4.1: the connector's HELLO: acceptor clear, zero cid; never `fast` (§6.1).
            ch.send({'type': 'HELLO', 'fast': False, 'acceptor': False, 'cid': codec.ZERO_CID,
                     'maxPayload': OUR_LIMIT, 'credits': 0})
            ch.start()

        trace.action(None, 'P', 'connect', 'O')
        channels.connect_tcp(self.loop, addr, connected,
                             lambda error: callback(RebindError('UNREACHABLE', str(error), '11.1'), None))

    # -- fork (§2.3, ¶0032: no wire traffic) ----------------------------------------------------

    def fork(self, handles):
        """Forks a child that holds a dormant handle for each of ``handles`` (Origins in OPEN)."""
        for handle in handles:
            if not isinstance(handle.conn, Origin) or handle.conn.state != 'OPEN':
                raise RebindError('INVALID_ARGUMENT', 'handle %s is not an open server-side connection' % handle.name, '2.3')
        ours, theirs = socket.socketpair()
        channels.remember(ours)
        channels.remember(theirs)
        records = [(handle.name, handle.conn.record()) for handle in handles]
        sys.stderr.flush()
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            ours.close()
            raise BecomeChild(theirs, parent_pid, self.actor, records, self.timers)
        theirs.close()
        link = Link(self, ours, 'child', pid, self.actor, 'S')
        self.children.append(link)
        for handle in handles:
            handle.conn.add_holder(link)
        return pid

    def start_successor(self, child):
        """In a forked child: listen for C2s, JOIN on L, make the dormant handles (§5.1, §2.3)."""
        self.rebind_listener = channels.listen_tcp('127.0.0.1', 0)
        self.rebind_addr = channels.tcp_addr(self.rebind_listener)
        self.actor = 'S%d' % self.rebind_listener.getsockname()[1]
        self.loop.add_reader(self.rebind_listener, self._accept_c2)
        self.parent = Link(self, child.link_sock, 'parent', child.parent_pid, self.actor, child.parent_actor)
        # §5.1: JOIN first, once, after the listener is up.
        self.parent.send({'type': 'JOIN', 'pid': os.getpid(), 'addr': self.rebind_addr})
        handles = []
        for name, record in child.records:
            handle = Handle(name, self.events)
            handle.conn = Successor(self, handle, self.parent, record)
            self.successors[record['cid']] = handle.conn
            handles.append(handle)
        return handles

    def _accept_c2(self):
        try:
            sock, _ = self.rebind_listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        channels.remember(sock)
        ch = channels.FrameChannel(self.loop, sock, 'wire', None, actor=self.actor, other='P')
        self.channels.add(ch)
        trace.action(None, self.actor, 'accept', 'P')
        ch.handler = _FirstFrame(self, ch)
        ch.start()

    # -- L --------------------------------------------------------------------------------------

    def on_local(self, link, message):
        kind = message['type']
        if link.kind == 'child':
            if not link.joined:
                if kind != 'JOIN':
                    link.channel.close()                      # §5.1: JOIN must come first
                    return
                link.joined = True
                link.addr = message['addr']
                for origin in list(self.origins.values()):
                    if link in origin.holders:
                        origin.on_join(link)
                return
            origin = self.origins.get(message.get('cid'))
            if kind == 'NEED':
                if origin is None:
                    # X12: no connection for this cid here; the successor must not wait.
                    link.send({'type': 'REVOKE', 'cid': message['cid'], 'hid': 1, 'code': code_of('REVOKED')})
                else:
                    origin.on_need(link, message['trigger'])
            elif kind == 'RELEASE' and origin is not None:
                origin.on_release(link)
            elif kind == 'JOIN':
                link.channel.close()                          # a second JOIN (§5.1)
            # anything else on L: ignored and logged (§7.5)
        else:
            successor = self.successors.get(message.get('cid'))
            if successor is not None:
                successor.on_local(message)

    def on_link_lost(self, link):
        if link.kind == 'child':
            for origin in list(self.origins.values()):
                if link in origin.holders:
                    origin.on_link_lost(link)
        else:
            for successor in list(self.successors.values()):
                successor.on_origin_lost()

    # -- exit (T2, §9.3) ----------------------------------------------------------------------

    def exit(self, code):
        """Orderly T2: every connection a successor holds is handed off first; the process exits
        when each has ended (bounded by the timers)."""
        self.exiting = code
        trace.action(None, self.actor, 'exit')
        for origin in list(self.origins.values()):
            origin.app_exit()
        self.connection_ended(None)

    def connection_ended(self, origin):
        if self.exiting is None:
            return
        if all(o.state in TERMINAL for o in self.origins.values()):
            self._flush_then_exit()

    def _flush_then_exit(self, deadline=None):
        deadline = deadline if deadline is not None else self.loop.now() + 2.0
        if any(ch.pending for ch in list(self.channels)) and self.loop.now() < deadline:
            self.loop.call_later(0.01, lambda: self._flush_then_exit(deadline))
            return
        sys.stderr.flush()
        os._exit(self.exiting)
