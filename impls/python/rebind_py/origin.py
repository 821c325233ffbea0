"""The origin (spec §7.1): the server side's owner of one connection, and the one that hands it off.

Only the stop-and-wait order of Fig. 9 (§6.2) is implemented; this implementation never offers
the fast order (§6.1), so rows O2, O4, O15–O21 and O39 never apply.

A handoff, as this class runs it:

    trigger (T1 close, T2 exit, NEED from a successor)          OPEN
      -> SUSPEND(hid)                                           SUSPENDING     timer SUSPEND
    SUSPENDED(hid, Yp, ..)                                      (the B'..D window is closed)
      -> COPY*, COPIED(Yp) and ORDER(hid, token, Xo) on L, then REBIND on C1
                                                                AWAIT_REBOUND  timer REBOUND
    REBOUND(hid) -> COMMIT on L, close C1                       REBOUND (no second rebind)
    ABORT(hid) from the peer -> REVOKE on L, resume on C1       OPEN (or FAILED without the app)

A successor that became the owner runs this class too, with its C2 as C1 (§10.1).

@module
"""
import os

from .errors import RebindError, code_of, name_of
from . import trace

HANDOFF_STATES = ('SUSPENDING', 'AWAIT_REBOUND', 'ABORTING')
TERMINAL = ('REBOUND', 'LEFT', 'FAILED', 'CLOSED')
COPY_CHUNK = 256 * 1024   # §5.4: one COPY carries at most 1 048 548 bytes


class Handoff:
    """One handoff under way: its hid, token, successor, and how far it got."""

    def __init__(self, hid, token, link):
        self.hid = hid
        self.token = token
        self.link = link
        self.copy_done = False     # guard copyDone: SUSPENDED arrived and the copy was sent (§6.5)


class Origin:
    def __init__(self, host, handle, channel, stream, record):
        self.host = host
        self.handle = handle
        self.channel = channel           # C1 (or the C2 this process took over, §10.1)
        channel.handler = self
        self.stream = stream
        self.cid = record['cid']
        self.acceptor = record['acceptor']
        self.last_hid = record.get('last_hid', 0)        # our end's last hid (§2.2 parity)
        self.peer_limit = record.get('peer_limit', 1 << 20)
        self.state = 'OPEN'
        self.holders = []        # links of successors holding a dormant handle, oldest first (§2.4)
        self.dead = set()        # holders that released, or were revoked (§5.8, §9.2)
        self.needs = []          # holders whose NEED arrived, first first (§2.4)
        self.app_holds = True    # guard appHolds: the application has not closed or exited
        self.triggered = False   # T1/T2 happened and waits for a successor's JOIN (§2.4)
        self.handoff = None
        self.timer = None
        self.moved_to = None     # the link the connection moved to (guard staleHolder, O38/O43)
        self.close_callback = None

    @property
    def actor(self):
        return self.host.actor

    # -- helpers ------------------------------------------------------------------------------

    def _start_timer(self, name):
        self._stop_timer()
        self.timer = self.host.loop.call_later(self.host.timer_s(name), lambda: self._timer(name))

    def _stop_timer(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _send(self, message):
        return self.channel.send(message)

    def _revoke(self, link, code, hid=None):
        """REVOKE to a successor (§5.7); hid: the handoff's, or the last hid used, or our first."""
        if link is None or link.lost:
            return
        if hid is None:
            hid = self.last_hid or (1 if self.acceptor else 2)
        link.send({'type': 'REVOKE', 'cid': self.cid, 'hid': hid, 'code': code_of(code)})

    def live_holders(self):
        """Guard successorHolds (§2.4): no RELEASE, L not lost, not revoked."""
        return [link for link in self.holders if not link.lost and link not in self.dead]

    def _reading_allowed(self):
        # §6.5: from the copy on (R fixed) until the handoff ends the application reads nothing.
        return self.handoff is None or not self.handoff.copy_done

    def _sending_allowed(self):
        # §6.7: the origin may send on C1 in OPEN and SUSPENDING (until REBIND).
        return self.state == 'OPEN' or (self.state in ('SUSPENDING', 'ABORTING') and not self.handoff.copy_done)

    def _fail(self, name, message='', section=None, send_error=True, revoke=None):
        """The connection fails here (state FAILED): ERROR on C1 (best effort), close C1."""
        if self.state in TERMINAL:
            return
        self._stop_timer()
        error = RebindError(name, message, section)
        if send_error:
            self._send({'type': 'ERROR', 'code': code_of(name), 'reason': message[:200]})
        self.channel.close()
        if revoke is not None:
            for link in revoke:
                self._revoke(link, name, self.handoff.hid if self.handoff else None)
        self.state = 'FAILED'
        trace.action(self.cid, self.actor, 'fail', code=name)
        self.stream.fail(error)
        self.handle.emit('error', code=error.code)
        self.host.connection_ended(self)

    def _involved(self):
        """The successors a failure must be relayed to: the one of the handoff, or every holder."""
        if self.handoff is not None:
            return [self.handoff.link]
        return self.live_holders()

    # -- the application ----------------------------------------------------------------------

    def app_recv(self, max_bytes, callback):
        if self.state in ('REBOUND', 'LEFT'):
            callback(None, None)   # §6.6: end-of-stream after what it had read
            return
        # CLOSED after the other end's FIN: what is unread, then end-of-stream (§9.7).
        self.stream.read(max_bytes, callback, self._reading_allowed())

    def app_send(self, data, callback):
        if self.state in ('REBOUND', 'LEFT'):
            callback(RebindError('REBOUND', 'the connection moved to a successor', '6.6'))
        elif self.state in ('FAILED', 'CLOSED'):
            callback(self.stream.error or RebindError('CLOSED', 'the connection is closed', '9.7'))
        elif self.stream.fin_sent or self.stream.held_fin:
            callback(RebindError('CLOSED', 'write after shutdown', '9.7'))
        elif self._sending_allowed():
            for frame in self.stream.data_frames(data, self.peer_limit):
                self._send(frame)
            callback(None)
        else:
            self.stream.held.append((bytes(data), callback))   # §6.4: held until the handoff ends

    def app_shutdown(self, callback):
        if self.state in TERMINAL:
            callback(None if self.state != 'FAILED' else self.stream.error)
            return
        if not self.stream.fin_sent:
            if self._sending_allowed():
                self._send(self.stream.fin_frame())
                trace.action(self.cid, self.actor, 'shutdown')
            else:
                self.stream.held_fin = True
        callback(None)

    def app_close(self, callback):
        """close: T1 when a successor holds the connection (§2.4), else an ordinary close (§9.7)."""
        trace.action(self.cid, self.actor, 'close')
        callback(None)
        self.app_holds = False
        if self.state == 'OPEN':
            self.trigger('T1')
        # During a handoff (O41) the close is remembered by app_holds; in REBOUND it does nothing (O37).

    def app_exit(self):
        """T2, orderly (§9.3): hand off like T1; the host exits when every connection has ended."""
        self.app_holds = False
        if self.state == 'OPEN':
            self.trigger('T2')

    # -- triggers and the start of a handoff ---------------------------------------------------

    def trigger(self, name):
        """T1/T2 at the origin (§2.4)."""
        if self.state != 'OPEN':
            return
        self.triggered = True
        self._start_if_ready()

    def _start_if_ready(self):
        """Chooses the successor (§2.4): the first that sent NEED, else the one made last. A T1/T2
        before that child's JOIN waits for it (or for its death)."""
        if self.state != 'OPEN' or not self.triggered:
            return
        live = self.live_holders()
        if not live:
            self._ordinary_close()      # O45: no successor holds the connection
            return
        needed = [link for link in self.needs if link in live]
        chosen = needed[0] if needed else live[-1]
        if not chosen.joined:
            return                      # waits for JOIN: the host calls on_join / on_link_lost
        self.triggered = False
        self._suspend(chosen)

    def _ordinary_close(self):
        """O45, §9.7: FIN, close C1."""
        if not self.stream.fin_sent:
            self._send(self.stream.fin_frame())
        self.channel.close()
        self.state = 'CLOSED'
        self.stream.fail(RebindError('CLOSED', 'closed', '9.7'))
        self.handle.emit('close')
        self.host.connection_ended(self)

    def _next_hid(self):
        # §2.2: the acceptor's side uses odd hids 1, 3, 5 ..., the connector's even 2, 4, 6 ...
        if self.last_hid == 0:
            return 1 if self.acceptor else 2
        return self.last_hid + 2

    def _suspend(self, link):
        """O1/O3: SUSPEND(hid) without fast, start the SUSPEND timer (§6.2 step C)."""
        hid = self._next_hid()
        if hid > 0xFFFFFFFF:
            return                      # §2.2: hids exhausted, no more handoffs
        self.last_hid = hid
        # §8.1: a fresh token from the OS's CSPRNG, in this process, after the fork.
        self.handoff = Handoff(hid, os.urandom(16), link)
        self.state = 'SUSPENDING'
        self._send({'type': 'SUSPEND', 'fast': False, 'hid': hid})
        self._start_timer('SUSPEND')

    # -- the local channel --------------------------------------------------------------------

    def add_holder(self, link):
        self.holders.append(link)

    def on_join(self, link):
        self._start_if_ready()

    def on_need(self, link, trigger_number):
        """NEED (§5.2): O3 in OPEN; remembered during a handoff (O40); O38/O43 once rebound."""
        if self.state == 'OPEN':
            if link not in self.live_holders():
                self._revoke(link, 'REVOKED')
                return
            if link not in self.needs:
                self.needs.append(link)
            self.triggered = False
            self._suspend(link)
        elif self.state in HANDOFF_STATES:
            if link not in self.needs:
                self.needs.append(link)
        elif self.state == 'REBOUND':
            if link is not self.moved_to:
                self._revoke(link, 'REVOKED')     # O43: a stale fork's NEED
        else:
            # LEFT, FAILED, CLOSED: that successor must not wait (§5.7: REVOKED, or the failure's code).
            failure = self.stream.error.name if self.state == 'FAILED' and self.stream.error else 'REVOKED'
            self._revoke(link, failure if failure in ('PEER_LOST', 'TIMEOUT', 'ABORTED') else 'REVOKED')

    def on_release(self, link):
        """RELEASE (§5.8): the successor drops out of the holders; the state does not change (O42)."""
        self.dead.add(link)
        self._start_if_ready()

    def on_link_lost(self, link):
        """lost L (§9.4): O6 outside a handoff; O14/O27 for the successor of the handoff."""
        if self.handoff is not None and link is self.handoff.link and self.state in ('SUSPENDING', 'AWAIT_REBOUND'):
            self._stop_timer()
            self._send({'type': 'ABORT', 'hid': self.handoff.hid, 'code': code_of('SUCCESSOR_LOST')})
            self.state = 'ABORTING'
            self._start_timer('ABORT')
        elif self.state == 'OPEN':
            self._start_if_ready()

    # -- C1 -----------------------------------------------------------------------------------

    def on_frame(self, channel, message):
        if channel is not self.channel or self.state in TERMINAL:
            return   # §7.5: a frame that crossed a close
        kind = message['type']
        state = self.state
        if kind in ('DATA', 'FIN'):
            if state in ('OPEN', 'SUSPENDING', 'ABORTING'):            # O5, O8, O32
                try:
                    self.stream.accept(message)
                except RebindError as error:
                    self._fail(error.name, str(error), error.section, revoke=self._involved())
                    return
                self.stream.serve(self._reading_allowed())
                self._maybe_finished()
            else:
                self._unexpected(message)                              # §6.7: AWAIT_REBOUND
        elif kind == 'SUSPENDED':
            if state == 'SUSPENDING' and self._hid_ok(message):
                self._on_suspended(message)                            # O9
            elif state == 'ABORTING':
                pass                                                   # O31: crossed our ABORT
            elif state != 'SUSPENDING':
                self._unexpected(message)
        elif kind == 'REBOUND':
            if state in ('AWAIT_REBOUND', 'ABORTING') and self._hid_ok(message):
                self._on_rebound()                                     # O22, O30
            elif state not in ('AWAIT_REBOUND', 'ABORTING'):
                self._unexpected(message)
        elif kind == 'ABORT':
            if self.acceptor and message['hid'] % 2 == 0 and message['code'] == code_of('COLLISION'):
                return                                                 # §7.5: the connector yielded (§9.8)
            if state in HANDOFF_STATES:
                if self._hid_ok(message):
                    self._on_peer_abort()                              # O11, O12, O23, O24, O28, O29
            elif state == 'OPEN' and 0 < message['hid'] <= self.last_hid:
                pass                                                   # a late ABORT of an ended handoff
            else:
                self._unexpected(message)
        elif kind == 'ERROR':
            # O44 (§4.12): the other end failed the connection.
            self._stop_timer()
            self.channel.close()
            self._fail('PEER_LOST', 'the peer sent ERROR(%s)' % name_of(message['code']), '4.12',
                       send_error=False, revoke=self._involved())
        elif kind == 'SUSPEND' and state in HANDOFF_STATES and self.acceptor and message['hid'] % 2 == 0:
            pass                                                       # X9 (§9.8): the connector will yield
        else:
            self._unexpected(message)

    def _hid_ok(self, message):
        """§2.2: every message of a handoff carries its hid; another is HANDOFF_MISMATCH."""
        if message['hid'] == self.handoff.hid:
            return True
        self._fail('HANDOFF_MISMATCH', '%s hid=%d, handoff %d' % (message['type'], message['hid'], self.handoff.hid),
                   '2.2', revoke=self._involved())
        return False

    def _unexpected(self, message):
        """§7.5: ERROR(UNEXPECTED_MESSAGE), close C1, fail; the successor involved is revoked."""
        self._fail('UNEXPECTED_MESSAGE', 'origin in %s received %s' % (self.state, message['type']), '7.5',
                   revoke=self._involved())

    def on_decode_error(self, channel, error):
        """§3.4 on C1: ERROR with the code, close, fail; REVOKE to a successor involved."""
        if channel is self.channel and self.state not in TERMINAL:
            self._fail(error.name, str(error), error.section, revoke=self._involved())

    def on_lost(self, channel, reason):
        if channel is not self.channel or self.state in TERMINAL:
            return
        if self.stream.fin_received and self.state == 'OPEN':
            # §9.7: the transport closing after the other end's FIN is the end of the connection,
            # not a loss. Successors still holding dormant handles learn it by REVOKE.
            for link in self.live_holders():
                self._revoke(link, 'CLOSED')
            self._closed_cleanly()
            return
        state = self.state
        self._stop_timer()
        if state == 'AWAIT_REBOUND' or (state == 'ABORTING' and self.handoff.copy_done):
            self._leave()                # O26, O34 (§9.6): the successor decides by C2 alone
        else:
            self._fail('PEER_LOST', 'C1 lost: %s' % reason, '9.5', send_error=False, revoke=self._involved())  # O7, O13, O35

    def _closed_cleanly(self):
        self.channel.close()
        self.state = 'CLOSED'
        self.stream.serve()
        held, self.stream.held = self.stream.held, []
        for _, callback in held:
            callback(RebindError('CLOSED', 'the connection is closed', '9.7'))
        self.handle.emit('close')
        self.host.connection_ended(self)

    def _maybe_finished(self):
        """Both FINs done and the application gone: the connection is over (§9.7)."""
        if self.state == 'OPEN' and self.stream.fin_sent and self.stream.fin_received and not self.app_holds:
            self._closed_cleanly()

    # -- the handoff --------------------------------------------------------------------------

    def _on_suspended(self, message):
        """O9 (§6.2 steps D, Y, E): check offsets, copy [R, Yp), COPIED, ORDER, then REBIND."""
        self._stop_timer()
        if message['sendEnd'] != self.stream.recv_offset or message['recvOffset'] > self.stream.send_offset:
            self._fail('STREAM_GAP', 'SUSPENDED sendEnd=%d recvOffset=%d, we received %d and sent %d' % (
                message['sendEnd'], message['recvOffset'], self.stream.recv_offset, self.stream.send_offset),
                '6.4', revoke=self._involved())
            return
        h = self.handoff
        link = h.link
        # §6.5: by FIFO every byte the peer sent on C1 has arrived; unread = [R, Yp).
        offset = self.stream.read_offset
        unread = bytes(self.stream.unread)
        for at in range(0, len(unread), COPY_CHUNK):
            piece = unread[at:at + COPY_CHUNK]
            link.send({'type': 'COPY', 'cid': self.cid, 'hid': h.hid, 'offset': offset + at, 'data': piece})
        link.send({'type': 'COPIED', 'peerFin': self.stream.fin_received, 'cid': self.cid, 'hid': h.hid,
                   'recvEnd': self.stream.recv_offset})
        h.copy_done = True
        # §6.2 step E: sending stops (Xo); ORDER before REBIND.
        xo = self.stream.send_offset
        link.send({'type': 'ORDER', 'fast': False, 'originFin': self.stream.fin_sent, 'cid': self.cid,
                   'hid': h.hid, 'token': h.token, 'sendEnd': xo})
        self._send({'type': 'REBIND', 'hid': h.hid, 'sendEnd': xo, 'token': h.token, 'addr': link.addr})
        self.state = 'AWAIT_REBOUND'
        self._start_timer('REBOUND')

    def _on_rebound(self):
        """O22, O30 (§6.6): COMMIT to the successor, close C1, rebound; the others are revoked."""
        self._stop_timer()
        h = self.handoff
        h.link.send({'type': 'COMMIT', 'cid': self.cid, 'hid': h.hid})
        self.channel.close()           # claim 11: C1 closes once C2 is up
        self.state = 'REBOUND'
        self.moved_to = h.link
        for link in self.live_holders():
            if link is not h.link:
                self._revoke(link, 'REVOKED', h.hid)
        trace.action(self.cid, self.actor, 'rebound')
        self.stream.fail(RebindError('REBOUND', 'the connection moved to a successor', '6.6'))
        self.stream.end_reads()
        self.handle.emit('rebound')
        self.host.connection_ended(self)

    def _leave(self):
        """O26, O34 (§9.6): C1 lost after the copy: COMMIT means 'decide by C2 alone'."""
        h = self.handoff
        h.link.send({'type': 'COMMIT', 'cid': self.cid, 'hid': h.hid})
        self.state = 'LEFT'
        self.moved_to = h.link
        self.stream.fail(RebindError('REBOUND', 'the connection was given up to the successor', '9.6'))
        self.stream.end_reads()
        self.handle.emit('close')
        self.host.connection_ended(self)

    def _on_peer_abort(self):
        """The peer's ABORT ends the handoff (§9.2): REVOKE(ABORTED); resume, or fail without the app."""
        self._stop_timer()
        h = self.handoff
        self._revoke(h.link, 'ABORTED', h.hid)
        self.dead.add(h.link)            # revoked: no longer a successor that holds (§2.4)
        if self.app_holds:
            self._resume()               # O11, O23, O28
        else:
            self._fail('ABORTED', 'the handoff was aborted and the application has closed', '9.2')  # O12, O24, O29

    def _resume(self):
        """§9.2: continue on C1 from Xo (held writes first) and read on from R."""
        self.handoff = None
        self.state = 'OPEN'
        trace.action(self.cid, self.actor, 'resume')
        held, self.stream.held = self.stream.held, []
        for data, callback in held:
            for frame in self.stream.data_frames(data, self.peer_limit):
                self._send(frame)
            callback(None)
        if self.stream.held_fin and not self.stream.fin_sent:
            self._send(self.stream.fin_frame())
        self.stream.serve()
        self.needs = []

    def _timer(self, name):
        self.timer = None
        trace.action(self.cid, self.actor, 'timeout', name)
        if name in ('SUSPEND', 'REBOUND') and self.state in ('SUSPENDING', 'AWAIT_REBOUND'):
            # O10, O25: the origin's ABORT is a request the peer answers (§9.2).
            self._send({'type': 'ABORT', 'hid': self.handoff.hid, 'code': code_of('TIMEOUT')})
            self.state = 'ABORTING'
            self._start_timer('ABORT')
        elif name == 'ABORT' and self.state == 'ABORTING':
            # O33: REVOKE(TIMEOUT), ERROR(TIMEOUT), close C1, fail.
            self._fail('TIMEOUT', 'no ABORT or REBOUND from the peer', '9.2', revoke=[self.handoff.link])

    # -- a successor process's end of the story (host) -----------------------------------------

    def record(self):
        """The connection record a forked successor inherits (§2.3)."""
        return {'cid': self.cid, 'acceptor': self.acceptor, 'last_hid': self.last_hid, 'peer_limit': self.peer_limit}
