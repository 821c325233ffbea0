"""The peer (spec §7.3): the far end, and the arbiter of every handoff of the other side (§6.6).

    OPEN      SUSPEND(hid) -> SUSPENDED(hid, Yp, recvOffset), stop sending on C1   timer REBIND
    SUSPENDED REBIND(hid, Xo, token, addr) -> connect C2, ATTACH                    timer ATTACH
    ATTACHING ATTACHED with agreeing offsets: commit -> REBOUND on C1, continue on C2
              REFUSE, ERROR, lost C2, timeout, the origin's ABORT -> ABORT on C1, resume on C1

This implementation never offers the fast order, so a SUSPEND(fast) is answered with
ABORT(CAPABILITY) and the connection stays OPEN (row P21, §6.1).

@module
"""
from . import channel as channels
from . import trace
from .errors import RebindError, code_of, name_of

REBOUND_CLOSE_S = 4.0   # §4.9: the peer may close the old C1 only after the REBOUND timer's default


class PeerHandoff:
    def __init__(self, hid):
        self.hid = hid
        self.token = None
        self.addr = None
        self.attach = None     # the ATTACH sent on C2
        self.c2 = None


class Peer:
    def __init__(self, host, handle, channel, stream, cid, peer_limit):
        self.host = host
        self.handle = handle
        self.channel = channel            # the current connection: C1, after a commit the C2 (§7.3)
        channel.handler = self
        self.stream = stream
        self.cid = cid
        self.peer_limit = peer_limit
        self.state = 'OPEN'
        self.handoff = None
        self.timer = None
        self.last_hid = 0                 # the highest hid of the other end's parity seen (§2.2)
        self.ended_hids = set()           # handoffs that ended here: their late frames are tolerated
        self.old_channels = []            # C1s of committed handoffs, until the origin closes them
        self.close_deferred = False

    actor = 'P'

    # -- helpers ------------------------------------------------------------------------------

    def _start_timer(self, name):
        self._stop_timer()
        self.timer = self.host.loop.call_later(self.host.timer_s(name), lambda: self._timer(name))

    def _stop_timer(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, name, detail, section, channel=None, send_error=True):
        if self.state in ('FAILED', 'CLOSED'):
            return
        self._stop_timer()
        if send_error:
            (channel or self.channel).send({'type': 'ERROR', 'code': code_of(name), 'reason': detail[:200]})
        self.channel.close()
        if self.handoff is not None and self.handoff.c2 is not None:
            self.handoff.c2.close()
        self.state = 'FAILED'
        trace.action(self.cid, self.actor, 'fail', code=name)
        self.stream.fail(RebindError(name, detail, section))
        self.handle.emit('error', code='ERR_' + name)

    def _unexpected(self, message, channel=None):
        self._fail('UNEXPECTED_MESSAGE', 'peer in %s received %s' % (self.state, message['type']), '7.5', channel)

    # -- the application ----------------------------------------------------------------------

    def app_recv(self, max_bytes, callback):
        self.stream.read(max_bytes, callback)          # unread bytes, then end (or the failure)          # the peer reads whatever arrived in order

    def app_send(self, data, callback):
        if self.state in ('FAILED', 'CLOSED'):
            callback(self.stream.error or RebindError('CLOSED', 'closed', '9.7'))
        elif self.stream.fin_sent or self.stream.held_fin:
            callback(RebindError('CLOSED', 'write after shutdown', '9.7'))
        elif self.state == 'OPEN':
            for frame in self.stream.data_frames(data, self.peer_limit):
                self.channel.send(frame)
            callback(None)
        else:
            self.stream.held.append((bytes(data), callback))   # §6.7: the stall d..g

    def app_shutdown(self, callback):
        if self.state == 'OPEN' and not self.stream.fin_sent:
            self.channel.send(self.stream.fin_frame())
        elif self.state not in ('FAILED', 'CLOSED'):
            self.stream.held_fin = True
        callback(None)

    def app_close(self, callback):
        callback(None)
        if self.state == 'OPEN':
            self._close()
        elif self.state not in ('FAILED', 'CLOSED'):
            self.close_deferred = True                 # §9.7: after the handoff ends

    def _close(self):
        if not self.stream.fin_sent:
            self.channel.send(self.stream.fin_frame())
        self.channel.close()
        self.state = 'CLOSED'
        self.stream.fail(RebindError('CLOSED', 'closed', '9.7'))
        self.handle.emit('close')

    # -- the current connection (C1) ----------------------------------------------------------

    def on_frame(self, channel, message):
        if self.handoff is not None and channel is self.handoff.c2:
            self._on_c2(message)
            return
        if channel is not self.channel or self.state in ('FAILED', 'CLOSED'):
            return            # an old C1 after the commit: everything on it is ignored (§6.6)
        kind = message['type']
        state = self.state
        if kind in ('DATA', 'FIN'):
            if state in ('OPEN', 'SUSPENDED'):                                   # P3, P6
                try:
                    self.stream.accept(message)
                except RebindError as error:
                    self._fail(error.name, str(error), error.section)
                    return
                self.stream.serve()
            else:
                self._unexpected(message)                                        # §6.7: ATTACHING
        elif kind == 'SUSPEND':
            if state != 'OPEN':
                self._unexpected(message)                                        # §9.8
            elif message['hid'] % 2 != 1 or message['hid'] <= self.last_hid:
                # §2.2: the acceptor's hids are odd and increase.
                self._fail('HANDOFF_MISMATCH', 'SUSPEND hid=%d after %d' % (message['hid'], self.last_hid), '2.2')
            else:
                self.last_hid = message['hid']
                if message['fast']:
                    # P21 (§6.1): we did not offer fast; do not act on it.
                    self.ended_hids.add(message['hid'])
                    self.channel.send({'type': 'ABORT', 'hid': message['hid'], 'code': code_of('CAPABILITY')})
                else:
                    self._suspended(message['hid'])                              # P1
        elif kind == 'REBIND':
            if state == 'SUSPENDED':
                self._on_rebind(message)                                         # P7
            elif state == 'OPEN':
                pass                                                             # P23: crossed our ABORT
            else:
                self._unexpected(message)
        elif kind == 'ABORT':
            if state == 'OPEN':
                pass                                                             # P4
            elif message['hid'] != self.handoff.hid:
                self._fail('HANDOFF_MISMATCH', 'ABORT hid=%d, handoff %d' % (message['hid'], self.handoff.hid), '2.2')
            elif state in ('SUSPENDED', 'ATTACHING'):
                self._abort('ABORTED')                                           # P9, P16
        elif kind == 'ERROR':
            detail = 'the origin sent ERROR(%s)' % name_of(message['code'])
            if state == 'ATTACHING':
                self.channel.close()
                self.state = 'ATTACHING_ALONE'                                   # as lost C1 (P18)
            elif state == 'OPEN':
                self._fail('PEER_LOST', detail, '4.12', send_error=False)        # P24
            elif state == 'SUSPENDED':
                self._fail('ORIGIN_LOST', detail, '9.3', send_error=False)       # as lost C1 (P10)
        else:
            self._unexpected(message)

    def on_decode_error(self, channel, error):
        if self.handoff is not None and channel is self.handoff.c2:
            self._c2_failed('a malformed frame from the successor: %s' % error)  # P17
        elif channel is self.channel and self.state not in ('FAILED', 'CLOSED'):
            self._fail(error.name, str(error), error.section)                    # §3.4

    def on_lost(self, channel, reason):
        if self.handoff is not None and channel is self.handoff.c2:
            self._c2_failed('C2 lost: %s' % reason, lost=True)                   # P14
            return
        if channel is not self.channel or self.state in ('FAILED', 'CLOSED'):
            return
        if self.state == 'OPEN':
            if self.stream.fin_received:
                self.channel.close()
                self.state = 'CLOSED'                                            # §9.7: not a loss
                self.stream.serve()
                self.handle.emit('close')
            else:
                self._fail('PEER_LOST', 'C1 lost: %s' % reason, '9.5', send_error=False)   # P5
        elif self.state == 'SUSPENDED':
            self._fail('ORIGIN_LOST', 'C1 lost while suspended: %s' % reason, '9.3', send_error=False)  # P10
        elif self.state == 'ATTACHING':
            self.state = 'ATTACHING_ALONE'                                       # P18

    # -- the handoff --------------------------------------------------------------------------

    def _suspended(self, hid):
        """P1 (§6.2 c, d): stop sending on C1 and say where: Yp and what we received."""
        self.handoff = PeerHandoff(hid)
        self.channel.send({'type': 'SUSPENDED', 'hid': hid, 'sendEnd': self.stream.send_offset,
                           'recvOffset': self.stream.recv_offset})
        self.state = 'SUSPENDED'
        self._start_timer('REBIND')

    def _on_rebind(self, message):
        """P7 (§6.2 e, f): check Xo, connect C2 to the successor, ATTACH as its first frame."""
        h = self.handoff
        if message['hid'] != h.hid:
            self._fail('HANDOFF_MISMATCH', 'REBIND hid=%d, handoff %d' % (message['hid'], h.hid), '2.2')
            return
        if message['sendEnd'] != self.stream.recv_offset:
            self._fail('STREAM_GAP', 'REBIND sendEnd=%d, received %d' % (message['sendEnd'], self.stream.recv_offset), '6.4')
            return
        self._stop_timer()
        h.token = message['token']
        h.addr = message['addr']
        self.state = 'ATTACHING'
        self._start_timer('ATTACH')                       # the connect of C2 included (§9.1)
        try:
            trace.action(self.cid, self.actor, 'connect', 'S%d' % channels.parse_tcp(h.addr)[1])
        except RebindError:
            pass
        channels.connect_tcp(self.host.loop, h.addr, lambda sock: self._c2_connected(h, sock),
                             lambda error: self._c2_connect_failed(h, error))

    def _c2_connected(self, h, sock):
        if h is not self.handoff or self.state not in ('ATTACHING', 'ATTACHING_ALONE'):
            sock.close()
            return
        successor = 'S%d' % channels.parse_tcp(h.addr)[1]   # trace names: S<port> (§13.1)
        h.c2 = channels.FrameChannel(self.host.loop, sock, 'wire', self, actor='P', other=successor, cid=self.cid)
        self.host.channels.add(h.c2)
        h.attach = {'type': 'ATTACH', 'peerFin': self.stream.fin_sent, 'cid': self.cid, 'hid': h.hid,
                    'token': h.token, 'recvOffset': self.stream.recv_offset,
                    'sendOffset': self.stream.send_offset, 'credits': 0}
        h.c2.send(h.attach)
        h.c2.start()

    def _c2_connect_failed(self, h, error):
        if h is not self.handoff:
            return
        if self.state == 'ATTACHING':
            self._abort('UNREACHABLE')                                           # P13
        elif self.state == 'ATTACHING_ALONE':
            self._fail('ORIGIN_LOST', 'the successor is unreachable and C1 is gone', '9.3', send_error=False)  # P20

    def _on_c2(self, message):
        h = self.handoff
        kind = message['type']
        if self.state not in ('ATTACHING', 'ATTACHING_ALONE'):
            return
        if kind == 'ATTACHED':
            a = h.attach
            if message['hid'] == a['hid'] and message['recvOffset'] == a['sendOffset'] and message['sendOffset'] == a['recvOffset']:
                self._commit()                                                   # P11, P19
            elif self.state == 'ATTACHING':
                # P22 (§6.4): bytes would be lost or doubled.
                h.c2.send({'type': 'ERROR', 'code': code_of('STREAM_GAP'), 'reason': 'ATTACHED offsets'})
                self._abort('STREAM_GAP')
            else:
                self._fail('ORIGIN_LOST', 'ATTACHED offsets disagree and C1 is gone', '9.3', send_error=False)
        elif kind == 'REFUSE':
            self._c2_failed('REFUSE(%s)' % name_of(message['code']), code='REFUSE')   # P12
        else:
            # ERROR, or anything else as the successor's first frame: as ERROR (P17).
            self._c2_failed('the successor sent %s' % kind)

    def _c2_failed(self, detail, code='SUCCESSOR_LOST', lost=False):
        if self.state == 'ATTACHING':
            self._abort(code)                                                    # P12, P14, P17
        elif self.state == 'ATTACHING_ALONE':
            self._fail('ORIGIN_LOST', detail + ' and C1 is gone', '9.3', send_error=False)   # P20

    def _abort(self, code):
        """The arbiter aborts (§9.2): ABORT(hid, code) on C1, close C2, resume on C1 from Yp."""
        self._stop_timer()
        h = self.handoff
        trace.action(self.cid, self.actor, 'resume')
        self.channel.send({'type': 'ABORT', 'hid': h.hid, 'code': code_of(code)})
        if h.c2 is not None:
            h.c2.close()
        self._resume()

    def _commit(self):
        """P11/P19 (§6.6): the handoff is committed here: REBOUND on C1, continue on C2."""
        self._stop_timer()
        h = self.handoff
        old = self.channel
        if self.state == 'ATTACHING':
            old.send({'type': 'REBOUND', 'hid': h.hid})
            # §4.9: the origin closes C1; we close our side only after the REBOUND timer's default.
            self.old_channels.append(old)
            self.host.loop.call_later(REBOUND_CLOSE_S, old.close)
        self.channel = h.c2
        self._resume()

    def _resume(self):
        h = self.handoff
        self.ended_hids.add(h.hid)
        self.handoff = None
        self.state = 'OPEN'
        held, self.stream.held = self.stream.held, []
        for data, callback in held:
            for frame in self.stream.data_frames(data, self.peer_limit):
                self.channel.send(frame)
            callback(None)
        if self.stream.held_fin and not self.stream.fin_sent:
            self.stream.held_fin = False
            self.channel.send(self.stream.fin_frame())
        self.stream.serve()
        if self.close_deferred:
            self.close_deferred = False
            self._close()

    def _timer(self, name):
        self.timer = None
        trace.action(self.cid, self.actor, 'timeout', name)
        if name == 'REBIND' and self.state == 'SUSPENDED':
            self._abort('TIMEOUT')                                               # P8
        elif name == 'ATTACH' and self.state == 'ATTACHING':
            self._abort('TIMEOUT')                                               # P15
        elif name == 'ATTACH' and self.state == 'ATTACHING_ALONE':
            self._fail('ORIGIN_LOST', 'no ATTACHED and C1 is gone', '9.3', send_error=False)   # P20
