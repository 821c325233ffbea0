"""Handoffs between real processes of rebind_py, driven through its own adapter (spec §15.1).

A small stand-in for the kit's control channel (``MiniKit``) starts ``adapter.py`` with
REBIND_KIT/REBIND_KIT_TOKEN, and commands its processes: the first one listens and connects to
itself (it is origin and peer at once), then forks successors. Every case moves random bytes and
checks them end to end; the trace lines the processes send are checked for the hids used.

Run from this directory with ``python3 -m unittest`` (real processes, real TCP on 127.0.0.1).

@module
"""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.join(HERE, 'adapter.py')
TIMERS = {'SUSPEND': 1000, 'REBOUND': 2000, 'ABORT': 1000, 'REBIND': 2000, 'ATTACH': 1000,
          'ARMED': 5000, 'COPY': 2000, 'COMMIT': 5000, 'NEED': 5000}
WAIT = 20.0


class Process:
    """One process of the implementation on the control channel."""

    def __init__(self, sock, hello):
        self.sock = sock
        self.hello = hello
        self.results = {}
        self.events = []
        self.trace = []
        self.cond = threading.Condition()
        self.next_id = 1

    def receive(self, line):
        with self.cond:
            if line['type'] == 'result':
                self.results[line['id']] = line
            elif line['type'] == 'event':
                self.events.append(line)
            elif line['type'] == 'trace':
                self.trace.append(line['line'])
            self.cond.notify_all()

    def command(self, op, **args):
        with self.cond:
            cid = self.next_id
            self.next_id += 1
        self.sock.sendall((json.dumps(dict({'type': 'command', 'id': cid, 'op': op}, **args)) + '\n').encode())
        return cid

    def result(self, cid, timeout=WAIT):
        with self.cond:
            if not self.cond.wait_for(lambda: cid in self.results, timeout):
                raise AssertionError('no result for command %d' % cid)
            return self.results[cid]

    def ok(self, op, **args):
        result = self.result(self.command(op, **args))
        if result.get('ok') is not True:
            raise AssertionError('%s failed: %s' % (op, result))
        return result.get('value', {})

    def event(self, match, timeout=WAIT):
        with self.cond:
            found = []
            if not self.cond.wait_for(lambda: found.extend(e for e in self.events if match(e)) or found, timeout):
                raise AssertionError('no such event; events: %s' % self.events)
            return found[0]

    def recv_bytes(self, handle, n):
        data = b''
        while len(data) < n:
            value = self.ok('recv', handle=handle)
            if value.get('end'):
                raise AssertionError('end-of-stream after %d of %d bytes' % (len(data), n))
            data += bytes.fromhex(value['data'])
        return data


class MiniKit:
    """The control endpoint: accepts the implementation's processes, one thread each."""

    def __init__(self):
        self.token = secrets.token_hex(16)
        self.server = socket.create_server(('127.0.0.1', 0))
        self.processes = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()
        env = dict(os.environ, REBIND_KIT='tcp://127.0.0.1:%d' % self.server.getsockname()[1],
                   REBIND_KIT_TOKEN=self.token, REBIND_KIT_CASE='python-selftest')
        self.child = subprocess.Popen([sys.executable, ADAPTER], env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _accept(self):
        while True:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        reader = sock.makefile('rb')
        process = None
        try:
            for raw in reader:
                line = json.loads(raw)
                if process is None:
                    assert line['type'] == 'hello' and line['token'] == self.token, line
                    process = Process(sock, line)
                    with self.cond:
                        self.processes.append(process)
                        self.cond.notify_all()
                else:
                    process.receive(line)
        except OSError:
            pass   # a process that crashed (the `crash` command) resets its control connection

    def process(self, n, timeout=WAIT):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.processes) > n, timeout):
                raise AssertionError('process %d never said hello' % n)
            return self.processes[n]

    def close(self):
        pids = [p.hello['pid'] for p in self.processes]
        for p in self.processes:
            try:
                p.sock.shutdown(socket.SHUT_RDWR)   # the reader thread's makefile keeps the fd open
            except OSError:
                pass
            p.sock.close()
        self.server.close()
        try:
            self.child.wait(3)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
        self.child.stderr.close()
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def trace(self):
        return [line for p in self.processes for line in p.trace]


class Handoffs(unittest.TestCase):
    """The server side in one process tree, the peer in another (two adapters, two MiniKits)."""

    def setUp(self):
        self.kit = MiniKit()
        self.addCleanup(self.kit.close)
        self.peer_kit = MiniKit()
        self.addCleanup(self.peer_kit.close)
        origin = self.kit.process(0)
        self.peer = self.peer_kit.process(0)
        self.assertEqual(origin.hello['parent'], None)
        for p in (origin, self.peer):
            p.ok('configure', timers=TIMERS)
        addr = origin.ok('listen', addr='tcp://127.0.0.1:0')['addr']
        cid = self.peer.ok('connect', addr=addr, handle='p')['cid']
        accepted = origin.event(lambda e: e['event'] == 'accepted')
        self.server = accepted['handle']
        self.origin = origin
        self.assertEqual(len(cid), 32)
        # Bytes both ways before any fork (§6.1, §4.2).
        up, down = os.urandom(3000), os.urandom(2000)
        self.peer.ok('send', handle='p', data=up.hex())
        self.assertEqual(origin.recv_bytes(self.server, len(up)), up)
        origin.ok('send', handle=self.server, data=down.hex())
        self.assertEqual(self.peer.recv_bytes('p', len(down)), down)

    def fork(self, owner, n):
        pid = owner.ok('fork', handles=[self.server])['pid']
        child = self.kit.process(n)
        self.assertEqual(child.hello['parent'], owner.hello['pid'])
        self.assertEqual(child.hello['pid'], pid)
        child.event(lambda e: e['event'] == 'inherited' and e['handle'] == self.server)
        return child

    def handoff(self, owner, n, trigger):
        """One handoff to a new child of ``owner``; returns the child, which owns the connection."""
        child = self.fork(owner, n)
        during = os.urandom(60000)
        sending = self.peer.command('send', handle='p', data=during.hex())
        reply = os.urandom(40000)
        if trigger == 'T1':
            owner.ok('close', handle=self.server)
        elif trigger == 'T2':
            owner.command('exit', code=0)   # never answered (§15.1)
        elif trigger == 'T4':
            replying = child.command('send', handle=self.server, data=reply.hex())
        self.assertEqual(child.recv_bytes(self.server, len(during)), during)        # the copy, then C2
        self.assertTrue(self.peer.result(sending)['ok'])
        if trigger == 'T4':
            self.assertTrue(child.result(replying)['ok'])                           # completes at COMMIT
        else:
            child.ok('send', handle=self.server, data=reply.hex())
        self.assertEqual(self.peer.recv_bytes('p', len(reply)), reply)
        return child

    def suspends(self):
        """The hids of the SUSPENDs the server side sent, from the trace lines (§13.1)."""
        time.sleep(0.2)   # trace lines travel beside the results
        return [m.group(1) for m in (re.search(r'^@\S+ P <~ \S+ SUSPEND .*hid=(\d+)', line) for line in self.peer_kit.trace()) if m]

    def test_t1_fig9(self):
        """T1: the origin closes after the fork; Fig. 9 order (§2.4, §6.2)."""
        self.handoff(self.origin, 1, 'T1')
        self.assertEqual(self.suspends(), ['1'])
        # The origin's handle was not closed by T1 before the commit: it now reads end-of-stream.
        trace = self.kit.trace()
        self.assertTrue(any(line.endswith(' O rebound') for line in trace), trace[-10:])

    def test_t3_origin_reads_end_after_commit(self):
        """T3: the child reads; the origin's handle reads end-of-stream afterwards (§6.6)."""
        self.handoff(self.origin, 1, 'T3')
        self.origin.event(lambda e: e['event'] == 'rebound' and e['handle'] == self.server)
        self.assertEqual(self.origin.ok('recv', handle=self.server), {'end': True})
        result = self.origin.result(self.origin.command('send', handle=self.server, data='00'))
        self.assertEqual(result['error']['code'], 'ERR_REBOUND')

    def test_t4_write_completes_at_commit(self):
        """T4: the child writes first; its bytes follow the origin's on the peer's stream (§6.4)."""
        self.handoff(self.origin, 1, 'T4')

    def test_t2_exit(self):
        """Orderly T2: the origin exits only after handing off (§9.3)."""
        self.handoff(self.origin, 1, 'T2')
        # The origin is the process MiniKit started: it must end on its own, with the exit code asked.
        self.assertEqual(self.kit.child.wait(10), 0)
        # The successor owns the connection: bytes still flow both ways.
        more = os.urandom(5000)
        self.peer.ok('send', handle='p', data=more.hex())
        self.assertEqual(self.kit.process(1).recv_bytes(self.server, len(more)), more)

    def test_chain(self):
        """Two handoffs in a row: the owner hands on with hid 3 (§10.1, §2.2)."""
        child = self.handoff(self.origin, 1, 'T1')
        self.handoff(child, 2, 'T3')
        self.assertEqual(self.suspends(), ['1', '3'])

    def test_successor_gone_then_ordinary_close(self):
        """A crashed child no longer holds the connection (O6); T1 is then an ordinary close (O45)."""
        child = self.fork(self.origin, 1)
        child.command('crash')
        time.sleep(0.5)
        self.origin.ok('close', handle=self.server)
        self.assertEqual(self.peer.ok('recv', handle='p'), {'end': True})          # FIN (§9.7)


if __name__ == '__main__':
    unittest.main()
