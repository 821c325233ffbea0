/**
 * The origin (§2.1) of the fault tests, in its own process: a rebind server that echoes what the
 * peer sends. When the peer connects it forks the successor (successor.ts), waits for its JOIN
 * (§5.1), echoes `FAULT_HANDOFF_AT` bytes, then starts the handoff:
 * - `FAULT_MODE=T1`: stops reading, waits until its echo is flushed, and closes its handle (T1,
 *   §2.4): the successor takes the connection over; this process's application is gone.
 * - `FAULT_MODE=T3`: tells the successor to read (T3 arrives as NEED, §5.2) and keeps echoing: if
 *   the handoff aborts, the connection resumes here (§9.2).
 * Environment: FAULT_REPORT, FAULT_KILL_O, FAULT_MODE, FAULT_FAST (`0` for stop-and-wait), FAULT_HOST,
 * FAULT_HANDOFF_AT, FAULT_CLOSE_INLINE.
 */
import type { ChildProcess } from 'node:child_process';
import { Runtime, createServer, fork, type RebindSocket } from '../../../../reference/index.js';
import { codeOf, matchesPattern, report, setUp } from './common.js';

const mode = process.env.FAULT_MODE === 'T3' ? 'T3' : 'T1';
const handoffAt = Number(process.env.FAULT_HANDOFF_AT ?? 24 * 1024);
setUp('O', { fast: process.env.FAULT_FAST !== '0' });

async function serve(socket: RebindSocket): Promise<void> {
  let read = 0;
  let readOk = true;
  let started = false;
  let done = false;
  /** After T1 the application has no handle: only the host's settlement of the handoff counts. */
  let closed = false;
  const outcome = (fields: Record<string, unknown>, fromHandoff = false): void => {
    if (done || (closed && !fromHandoff)) return;
    done = true;
    report('O', 'outcome', { read, readOk, ...fields });
  };
  report('O', 'accepted', { remote: socket.remoteAddress });
  socket.on('error', (error) => outcome({ outcome: 'error', code: codeOf(error) }));
  socket.on('rebound', () => outcome({ outcome: 'rebound' }));
  socket.on('end', () => socket.end());
  socket.on('close', () => outcome({ outcome: 'complete' }));

  const child: ChildProcess = await fork(new URL('./successor.ts', import.meta.url), [mode], { connections: [socket] });
  report('O', 'forked', { successor: child.pid });
  await Runtime.current().whenJoined(child.pid!);

  const startHandoff = (): void => {
    started = true;
    report('O', 'handoff', { mode, read });
    if (mode === 'T3') {
      child.send('go');
      return;
    }
    socket.pause();
    const close = (): void => {
      // T1 (§2.4). The origin's application has no handle any more: the handoff's outcome is the host's.
      socket.host.handoffSettled().then(
        () => outcome({ outcome: 'rebound' }, true),
        (error: unknown) => outcome({ outcome: 'error', code: codeOf(error) }, true),
      );
      closed = true;
      socket.destroy();
      child.send('go');
    };
    const whenFlushed = (): void => {
      if (socket.writableLength === 0) close();
      else socket.once('drain', close);
    };
    // FAULT_CLOSE_INLINE=1 closes inside the 'data' handler (bug B1 in /tmp/faults-report.md);
    // otherwise on the next turn of the event loop, outside the host's input handling.
    if (process.env.FAULT_CLOSE_INLINE === '1') whenFlushed();
    else setImmediate(whenFlushed);
  };
  socket.on('data', (chunk: Buffer) => {
    if (!matchesPattern(chunk, read)) readOk = false;
    read += chunk.length;
    socket.write(chunk);
    if (!started && read >= handoffAt) startHandoff();
  });
}

const server = createServer((socket) => {
  void serve(socket).catch((error: unknown) => report('O', 'outcome', { outcome: 'error', code: codeOf(error), where: 'serve' }));
});
server.listen(0, process.env.FAULT_HOST ?? '127.0.0.1', () => report('O', 'listening', { port: server.address()!.port }));
