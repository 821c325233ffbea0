"""The successor (spec §7.2): a forked child's dormant handle, until it owns the connection.

    fork: DORMANT (nothing on the wire, ¶0032)
    T3 read / T4 write -> NEED on L                              NEEDED        timer NEED
    COPY* (held), COPIED(recvEnd)                                COPYING, COPIED
    ORDER(hid, token, Xo) arms the token                         READY         timer ARMED
    ATTACH on C2, token verified (§8.2) and consumed -> ATTACHED BOUND         timer COMMIT
    COMMIT -> deliver the copy, then C2 data                     OWNER: an Origin from now on

ATTACHes that come before ORDER are deferred (§8.3); wrong, replayed and late ones are refused
without any change of state. Nothing is delivered to the application before COMMIT (§6.6).

@module
"""
import hmac

from . import trace
from .errors import RebindError, code_of, name_of
from .origin import Origin

BEFORE_ORDER = ('DORMANT', 'NEEDED', 'COPYING', 'COPIED')     # the states that defer ATTACH (§7)
ARMED_STATES = ('READY', 'READY_ALONE')
ENDED = ('REVOKED', 'RELEASED', 'FAILED')
DEFER_HOLD_S = 2.0   # §8.3: a deferred ATTACH is not refused before the ATTACH timer's default


class Successor:
    def __init__(self, host, handle, link, record):
        from .stream import Stream
        self.host = host
        self.handle = handle
        self.link = link                  # L to the origin
        self.cid = record['cid']
        self.acceptor = record['acceptor']
        self.peer_limit = record.get('peer_limit', 1 << 20)
        self.state = 'DORMANT'
        self.stream = Stream()            # reads wait and writes are held until OWNER
        self.timer = None
        # The copy (§6.5): held, never delivered before COMMIT.
        self.copy = bytearray()
        self.copy_start = None
        self.copy_hid = None
        self.copy_broken = False          # X5: a gap in the copy disarms the order
        self.copied = None                # (recvEnd, peerFin) from COPIED
        self.order = None                 # the armed ORDER: hid, token, sendEnd, originFin
        self.consumed = []                # tokens used by a valid ATTACH (§8.2 step 3)
        self.expired = []                 # tokens of orders revoked or timed out (§8.2 step 4)
        self.deferred = None              # (C2, ATTACH, hold timer): an ATTACH that came before ORDER
        self.c2 = None                    # C2 after a valid ATTACH
        self.c2_held = bytearray()        # the peer's C2 bytes, held until COMMIT (§6.6)
        self.c2_fin = False
        self.close_deferred = False

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

    def _expire_order(self):
        if self.order is not None and not any(hmac.compare_digest(t, self.order['token']) for t in self.consumed):
            self.expired.append(self.order['token'])

    def _end(self, state, name, detail, section, error_on_c2=False):
        """REVOKED or FAILED: discard the copy and held C2 data, fail the handle (S18–S28, S33)."""
        if self.state in ENDED or self.state == 'OWNER':
            return
        self._stop_timer()
        self._expire_order()
        self.copy = bytearray()
        self.c2_held = bytearray()
        if self.c2 is not None:
            if error_on_c2:
                self.c2.send({'type': 'ERROR', 'code': code_of(name if state == 'FAILED' else 'REVOKED'), 'reason': ''})
            self.c2.close()
        self.state = state
        self._refuse_deferred('TOKEN_EXPIRED')                        # S32 for a deferred ATTACH
        handle_error = 'REVOKED' if state == 'REVOKED' else name
        trace.action(self.cid, self.actor, 'fail', code=handle_error)
        self.stream.fail(RebindError(handle_error, detail, section))
        self.handle.emit('error', code='ERR_' + handle_error)

    # -- the application ----------------------------------------------------------------------

    def _trigger(self, number):
        """T3/T4 on a dormant handle: NEED (S1); later triggers are absorbed (S29)."""
        if self.state == 'DORMANT':
            trace.action(self.cid, self.actor, 'trigger', 'T%d' % number)
            self.link.send({'type': 'NEED', 'cid': self.cid, 'trigger': number})
            self.state = 'NEEDED'
            self._start_timer('NEED')

    def _ended_error(self):
        return self.stream.error or RebindError('CLOSED', 'the handle is closed', '9.7')

    def app_recv(self, max_bytes, callback):
        if self.state in ENDED:
            callback(self._ended_error(), None)
            return
        self._trigger(3)
        self.stream.read(max_bytes, callback, allowed=False)          # waits for COMMIT (§6.6)

    def app_send(self, data, callback):
        if self.state in ENDED:
            callback(self._ended_error())
            return
        if self.stream.held_fin:
            callback(RebindError('CLOSED', 'write after shutdown', '9.7'))
            return
        # §6.4: the write (the T4 one too) completes at COMMIT, or fails with ERR_REVOKED.
        self.stream.held.append((bytes(data), callback))
        self._trigger(4)

    def app_shutdown(self, callback):
        if self.state not in ENDED:
            self.stream.held_fin = True
        callback(None)

    def app_close(self, callback):
        callback(None)
        if self.state == 'DORMANT':
            # S2: the dormant handle is given up before any trigger.
            trace.action(self.cid, self.actor, 'close')
            self.link.send({'type': 'RELEASE', 'cid': self.cid})
            self.state = 'RELEASED'
            self.stream.fail(RebindError('CLOSED', 'the handle was closed', '9.7'))
            self.handle.emit('close')
        elif self.state not in ENDED:
            self.close_deferred = True     # §9.7: a close during a handoff waits for its end

    # -- L: messages from the origin ----------------------------------------------------------

    def on_local(self, message):
        kind = message['type']
        state = self.state
        if state in ENDED or state == 'OWNER':
            return                                                     # S31 (§7.5)
        if kind == 'COPY':
            if state in ('DORMANT', 'NEEDED'):                         # S3
                self.copy_hid = message['hid']
                self.copy_start = message['offset']
                self.copy = bytearray(message['data'])
                self.state = 'COPYING'
            elif state == 'COPYING' and message['hid'] == self.copy_hid:   # S5
                if message['offset'] != self.copy_start + len(self.copy):
                    self.copy_broken = True                            # OFFSET_MISMATCH: X5 (§6.5)
                else:
                    self.copy += message['data']
        elif kind == 'COPIED':
            if state in ('DORMANT', 'NEEDED', 'COPYING'):              # S4
                if state == 'COPYING':
                    if message['hid'] != self.copy_hid or message['recvEnd'] != self.copy_start + len(self.copy):
                        self.copy_broken = True                        # STREAM_GAP: X5
                else:
                    self.copy_hid = message['hid']
                    self.copy_start = message['recvEnd']
                self.copied = (message['recvEnd'], message['peerFin'])
                self.state = 'COPIED'
        elif kind == 'ORDER':
            if state == 'COPIED' and not message['fast'] and message['hid'] == self.copy_hid:   # S6
                self._stop_timer()
                self.order = {'hid': message['hid'], 'token': message['token'],
                              'sendEnd': message['sendEnd'], 'originFin': message['originFin']}
                self.state = 'READY'
                self._start_timer('ARMED')
                if self.deferred is not None:                          # §8.3: the deferred ATTACH now
                    channel, attach, hold = self.deferred
                    self.deferred = None
                    hold.cancel()
                    self.on_attach(channel, attach)
        elif kind == 'COMMIT':
            if state == 'BOUND' and message['hid'] == self.order['hid']:
                self._become_owner()                                   # S17
            elif state == 'READY' and message['hid'] == self.order['hid']:
                self.state = 'READY_ALONE'                             # S30 (§9.6)
        elif kind == 'REVOKE':
            if name_of(message['code']) == 'COLLISION':
                return   # X4 concerns origins that yield a collision; this implementation's never do
            if state in BEFORE_ORDER + ARMED_STATES:
                self._end('REVOKED', 'REVOKED', 'revoked by the origin (%s)' % name_of(message['code']), '9.2')   # S18
            elif state == 'BOUND':
                self._end('REVOKED', 'REVOKED', 'revoked by the origin (%s)' % name_of(message['code']), '9.2',
                          error_on_c2=True)                            # S19
        # anything else on L is ignored (§7.5)

    def on_origin_lost(self):
        """lost L (§9.3): S20 before ORDER; S21 READY -> READY_ALONE; S24 BOUND -> deliver and own."""
        if self.state in BEFORE_ORDER:
            self._end('FAILED', 'ORIGIN_LOST', 'the origin died before the handoff', '9.3')
        elif self.state == 'READY':
            self.state = 'READY_ALONE'
        elif self.state == 'BOUND':
            self._become_owner()

    # -- C2: the peer's ATTACH ------------------------------------------------------------------

    def on_attach(self, channel, attach):
        """§8.2 verification; §8.3: a failed one is refused and changes nothing."""
        channel.handler = self
        state = self.state
        if state in ENDED:
            self._refuse(channel, attach, 'TOKEN_EXPIRED')             # S32
        elif state in BEFORE_ORDER:
            if self.deferred is not None:
                self._refuse(channel, attach, 'TOKEN_INVALID')         # §8.3: one deferred ATTACH per cid
            else:
                hold = self.host.loop.call_later(max(DEFER_HOLD_S, self.host.timer_s('ATTACH')),
                                                 lambda: self._refuse_deferred('TOKEN_INVALID'))   # X2
                self.deferred = (channel, attach, hold)
        elif state in ARMED_STATES and self._token_ok(attach):
            token = self.order['token']
            self.consumed.append(token)                                # consumed before ATTACHED (§8.2)
            self._stop_timer()
            recv_end, peer_fin = self.copied
            if (self.copy_broken or attach['sendOffset'] != recv_end or attach['recvOffset'] != self.order['sendEnd']
                    or attach['peerFin'] != peer_fin):
                # §6.4, §6.5: the offsets do not meet; the peer aborts, the origin's REVOKE ends us.
                self._refuse(channel, attach, 'STREAM_GAP')
                self._start_timer('ARMED')
                return
            self.c2 = channel
            self.c2.actor, self.c2.other, self.c2.cid = self.actor, 'P', self.cid
            channel.send({'type': 'ATTACHED', 'hid': attach['hid'], 'recvOffset': recv_end,
                          'sendOffset': self.order['sendEnd'], 'credits': 0})
            if state == 'READY':
                self.state = 'BOUND'                                   # S11
                self._start_timer('COMMIT')
            else:
                self._become_owner()                                   # S22: the origin is gone
        else:
            self._refuse(channel, attach, self._refusal(attach))       # S12

    def _token_ok(self, attach):
        """Guard tokenOk (§8.2 step 2): hid of the armed ORDER, the token, unused. Constant time."""
        order = self.order
        if order is None or attach['hid'] != order['hid']:
            return False
        same = hmac.compare_digest(attach['token'], order['token'])
        used = any(hmac.compare_digest(attach['token'], t) for t in self.consumed)
        return same and not used

    def _refusal(self, attach):
        """§8.2 steps 3–5: replayed, expired, or invalid."""
        if any(hmac.compare_digest(attach['token'], t) for t in self.consumed):
            return 'TOKEN_REPLAYED'
        if any(hmac.compare_digest(attach['token'], t) for t in self.expired):
            return 'TOKEN_EXPIRED'
        return 'TOKEN_INVALID'

    def _refuse(self, channel, attach, code):
        """REFUSE(hid as received, code), close that C2 (§4.11, §8.3)."""
        channel.send({'type': 'REFUSE', 'hid': attach['hid'], 'code': code_of(code)})
        channel.close()

    def _refuse_deferred(self, code):
        if self.deferred is not None:
            channel, attach, hold = self.deferred
            self.deferred = None
            hold.cancel()
            if not channel.closed:
                self._refuse(channel, attach, code)

    def on_frame(self, channel, message):
        if channel is not self.c2 or self.state != 'BOUND':
            # Before a valid ATTACH (a deferred one's C2): the other end must wait; a stranger's
            # problem, closed without any change of state (§3.4, §6.7).
            if self.deferred is not None and channel is self.deferred[0]:
                self.deferred[2].cancel()
                self.deferred = None
            channel.send({'type': 'ERROR', 'code': code_of('UNEXPECTED_MESSAGE'), 'reason': ''})
            channel.close()
            return
        kind = message['type']
        if kind in ('DATA', 'FIN'):                                    # S16: hold until COMMIT
            expected = self.copied[0] + len(self.c2_held)
            if self.c2_fin or message['offset'] != expected:
                self._end('FAILED', 'OFFSET_MISMATCH', '%s at %d, expected %d' % (kind, message['offset'], expected),
                          '4.2', error_on_c2=True)
            elif kind == 'FIN':
                self.c2_fin = True
            else:
                self.c2_held += message['data']
        elif kind == 'ERROR':                                          # S34
            self._end('FAILED', 'TRANSPORT_FAILED', 'the peer sent ERROR(%s) on C2' % name_of(message['code']), '4.12')
        else:
            self._end('FAILED', 'UNEXPECTED_MESSAGE', 'successor in BOUND received %s' % kind, '7.5', error_on_c2=True)

    def on_decode_error(self, channel, error):
        if channel is self.c2 and self.state == 'BOUND':
            self._end('FAILED', error.name, str(error), error.section, error_on_c2=True)   # §3.4 after ATTACH
        else:
            if self.deferred is not None and channel is self.deferred[0]:
                self.deferred[2].cancel()
                self.deferred = None
            channel.send({'type': 'ERROR', 'code': code_of(error.name), 'reason': ''})
            channel.close()

    def on_lost(self, channel, reason):
        if self.deferred is not None and channel is self.deferred[0]:
            self.deferred[2].cancel()
            self.deferred = None                                       # the peer gave up (P15)
        elif channel is self.c2 and self.state == 'BOUND':
            self._end('FAILED', 'TRANSPORT_FAILED', 'C2 lost: %s' % reason, '9.6')   # S25

    # -- timers -------------------------------------------------------------------------------

    def _timer(self, name):
        self.timer = None
        trace.action(self.cid, self.actor, 'timeout', name)
        if name == 'NEED' and self.state in ('NEEDED', 'COPYING', 'COPIED'):
            self._end('FAILED', 'TIMEOUT', 'no ORDER or REVOKE after NEED', '9.1')           # S33
        elif name == 'ARMED' and self.state in ARMED_STATES:
            self._end('FAILED', 'TIMEOUT', 'no valid ATTACH after ORDER', '9.1')             # S26
        elif name == 'COMMIT' and self.state == 'BOUND':
            self._end('FAILED', 'TIMEOUT', 'no COMMIT or REVOKE after ATTACHED', '9.1', error_on_c2=True)   # S28

    # -- the commit ---------------------------------------------------------------------------

    def _become_owner(self):
        """S17, S22, S24 (§6.6): deliver the copy, then C2 data; this process owns the connection
        and is the origin of any later handoff (§10.1), with C2 as its C1."""
        self._stop_timer()
        self._refuse_deferred('TOKEN_EXPIRED')
        recv_end, peer_fin = self.copied
        stream = self.stream
        stream.send_offset = self.order['sendEnd']
        stream.fin_sent = self.order['originFin']
        stream.unread = self.copy + self.c2_held
        stream.recv_offset = recv_end + len(self.c2_held)
        stream.fin_received = peer_fin or self.c2_fin
        self.copy, self.c2_held = bytearray(), bytearray()
        self.state = 'OWNER'
        record = {'cid': self.cid, 'acceptor': self.acceptor, 'last_hid': self.order['hid'], 'peer_limit': self.peer_limit}
        origin = Origin(self.host, self.handle, self.c2, stream, record)
        self.handle.conn = origin
        self.host.origins[self.cid] = origin
        # Held writes complete now (§6.4): sent on C2 from Xo, or refused after the origin's FIN.
        held, stream.held = stream.held, []
        held_fin, stream.held_fin = stream.held_fin, False
        for data, callback in held:
            origin.app_send(data, callback)
        if held_fin:
            origin.app_shutdown(lambda error: None)
        stream.serve()
        if self.close_deferred:
            origin.app_close(lambda error: None)
