#!/usr/bin/env python3
"""The conformance kit's adapter for rebind_py (spec §15.1).

`npx conformance run --impl impls/python/adapter.py` starts this program once per case with
REBIND_KIT (the control endpoint), REBIND_KIT_TOKEN and REBIND_KIT_CASE in the environment. Each
process of the implementation — this one, and every child it forks — opens its own control
connection, says `hello`, and then turns the kit's commands into calls of rebind_py:

    configure {timers, fast}   listen {addr}        connect {addr, handle}
    send {handle, data}        recv {handle, max}   shutdown / close {handle}
    fork {handles}             exit {code}          crash            probe {feature}

Unsolicited events: accepted, inherited, error, close, rebound; and `trace` lines (§13.1).

Honest "unsupported" (§15.1): the fast order (§6.3), worker joins (`handoff`, §10.2), RDMA, and a
fork of a peer-side handle are answered `unsupported`; `hello` claims only `chain` (§10.1).

Standard library only (Python 3.8+).

@module
"""
import json
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from rebind_py import trace  # noqa: E402
from rebind_py.channel import ALL_SOCKETS, parse_tcp, remember  # noqa: E402
from rebind_py.errors import RebindError  # noqa: E402
from rebind_py.host import BecomeChild, Host  # noqa: E402
from rebind_py.loop import Loop  # noqa: E402
from rebind_py.origin import Origin  # noqa: E402
from rebind_py.peer import Peer  # noqa: E402

IMPLEMENTATION = {'name': 'rebind-py', 'version': '0.1.0'}
ROLES = ['server', 'peer']
FEATURES = ['chain']   # §15 MAY: chains (§10.1); not fast, join or rdma


class Control:
    """The control channel (§15.1): UTF-8 JSON, one object per line, over TCP."""

    def __init__(self, loop, on_line):
        host, port = parse_tcp(os.environ.get('REBIND_KIT', ''))
        self.loop = loop
        self.sock = remember(socket.create_connection((host, port)))
        self.sock.setblocking(False)
        self.on_line = on_line
        self.inbox = bytearray()
        self.out = bytearray()
        loop.add_reader(self.sock, self._readable)

    def send(self, obj):
        self.out += (json.dumps(obj, separators=(',', ':')) + '\n').encode('utf-8')
        self._flush()

    def _flush(self):
        while self.out:
            try:
                sent = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                os._exit(0)
            del self.out[:sent]
        if self.out:
            self.loop.add_writer(self.sock, self._flush)
        else:
            self.loop.remove_writer(self.sock)

    def _readable(self):
        try:
            chunk = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b''
        if not chunk:
            # The kit ended the case: this process ends too (§15.1).
            sys.stderr.flush()
            os._exit(0)
        self.inbox += chunk
        while b'\n' in self.inbox:
            line, _, rest = bytes(self.inbox).partition(b'\n')
            self.inbox = bytearray(rest)
            if line.strip():
                self.on_line(json.loads(line))


class Adapter:
    def __init__(self, child=None):
        self.loop = Loop()
        self.handles = {}
        self.host = Host(self.loop, self._event, timers=child.timers if child is not None else None)
        self.host.on_accept = self._accepted
        self.control = Control(self.loop, self._line)
        trace.set_hook(self._trace)
        self.control.send({'type': 'hello', 'token': os.environ.get('REBIND_KIT_TOKEN', ''), 'pid': os.getpid(),
                           'parent': child.parent_pid if child is not None else None,
                           'implementation': IMPLEMENTATION, 'roles': ROLES, 'features': FEATURES})
        if child is not None:
            # A forked child: its dormant handles keep the parent's names (§15.1 `fork`).
            for handle in self.host.start_successor(child):
                self.handles[handle.name] = handle
                self._event(handle.name, 'inherited', {'cid': handle.conn.cid.hex()})

    def run(self):
        self.loop.run()

    # -- events -------------------------------------------------------------------------------

    def _event(self, name, event, fields):
        self.control.send(dict({'type': 'event', 'event': event, 'handle': name}, **fields))

    def _trace(self, cid, line):
        message = {'type': 'trace', 'line': line}
        if cid is not None:
            message['cid'] = cid
        self.control.send(message)

    def _accepted(self, handle, listener):
        n = len(self.handles) + 1
        while handle.name in self.handles:
            handle.name = 'a%d' % n
            n += 1
        self.handles[handle.name] = handle
        self._event(handle.name, 'accepted', {'listener': listener})

    # -- commands -----------------------------------------------------------------------------

    def _ok(self, cid, value=None):
        self.control.send({'type': 'result', 'id': cid, 'ok': True, 'value': value or {}})

    def _error(self, cid, error):
        if isinstance(error, RebindError):
            code, message = error.code, str(error)
        else:
            code, message = 'ERR_INTERNAL', '%s: %s' % (type(error).__name__, error)
        self.control.send({'type': 'result', 'id': cid, 'ok': False, 'error': {'code': code, 'message': message}})

    def _unsupported(self, cid, why):
        self.control.send({'type': 'result', 'id': cid, 'unsupported': why})

    def _line(self, line):
        if line.get('type') != 'command':
            return
        try:
            self._command(line)
        except BecomeChild:
            raise
        except Exception as error:  # a bad argument answers the command, it does not end the process
            self._error(line['id'], error if isinstance(error, RebindError) else RebindError('INVALID_ARGUMENT', str(error)))

    def _handle(self, line):
        handle = self.handles.get(line.get('handle'))
        if handle is None:
            raise RebindError('INVALID_ARGUMENT', 'no handle %r' % line.get('handle'), '15.1')
        return handle

    def _command(self, line):
        cid = line['id']
        op = line.get('op')

        def done(error=None, value=None):
            if error is not None:
                self._error(cid, error)
            else:
                self._ok(cid, value)

        if op == 'configure':
            if line.get('fast') is True:
                self._unsupported(cid, 'the fast order (§6.3) is not implemented; HELLO never offers it')
                return
            for name, ms in (line.get('timers') or {}).items():
                if name in self.host.timers:
                    self.host.timers[name] = int(ms)
            done()
        elif op == 'listen':
            addr, listener = self.host.listen(line['addr'])
            done(value={'addr': addr, 'listener': listener})
        elif op == 'connect':
            name = line['handle']

            def connected(error, handle):
                if error is not None:
                    done(error)
                    return
                self.handles[name] = handle
                done(value={'cid': handle.conn.cid.hex()})

            self.host.connect(line['addr'], name, connected)
        elif op == 'send':
            self._handle(line).send(bytes.fromhex(line['data']), lambda error: done(error))
        elif op == 'recv':
            def received(error, data):
                if error is not None:
                    done(error)
                elif data is None:
                    done(value={'end': True})
                else:
                    done(value={'data': data.hex()})
            self._handle(line).recv(line.get('max'), received)
        elif op == 'shutdown':
            self._handle(line).shutdown(lambda error: done(error))
        elif op == 'close':
            self._handle(line).close(lambda error: done(error))
        elif op == 'fork':
            names = line.get('handles')
            if names == 'all':
                handles = [h for h in self.handles.values() if isinstance(h.conn, Origin) and h.conn.state == 'OPEN']
            else:
                handles = [self._handle({'handle': n}) for n in names]
            if any(isinstance(h.conn, Peer) for h in handles):
                self._unsupported(cid, 'handing off the connecting end (the peer side, §10.1) is not implemented')
                return
            pid = self.host.fork(handles)      # in the child this raises BecomeChild
            done(value={'pid': pid})
        elif op == 'exit':
            self.host.exit(int(line.get('code', 0)))
        elif op == 'crash':
            os.kill(os.getpid(), signal.SIGKILL)
        elif op == 'probe':
            if line.get('feature') in FEATURES:
                done()
            else:
                self._unsupported(cid, 'feature %r is not implemented' % line.get('feature'))
        elif op == 'handoff':
            self._unsupported(cid, 'worker joins (§10.2) are not implemented')
        else:
            self._unsupported(cid, 'operation %r is not implemented' % op)


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # forked successors are reaped by the kernel
    child = None
    while True:
        try:
            if child is not None:
                # §11.1: the child closes its copies of the parent's sockets (C1s, listeners, the
                # parent's control channel) and keeps only its end of L.
                trace.set_hook(None)
                for sock in list(ALL_SOCKETS):
                    if sock is not child.link_sock:
                        sock.close()
            Adapter(child).run()
            return
        except BecomeChild as forked:
            child = forked


if __name__ == '__main__':
    main()
