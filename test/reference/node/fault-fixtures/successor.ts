/**
 * The successor (§2.1) of the fault tests: forked by origin.ts, it inherits the connection as a
 * dormant handle (§2.3) and, once told (`go` on the IPC channel, or the origin's IPC channel
 * closed because it died), echoes everything it reads and ends when the peer ends. In T3 mode the
 * first read is the trigger (§2.4). It reports what it read (length, SHA-256, first bytes) so the
 * test can check it continues the origin's stream byte-exact.
 * Environment: FAULT_REPORT, FAULT_KILL_S.
 */
import { createHash } from 'node:crypto';
import { inherited } from '../../../../reference/index.js';
import { codeOf, report, setUp } from './common.js';

setUp('S');
const [socket] = await inherited();
if (socket === undefined) {
  report('S', 'outcome', { outcome: 'error', code: 'no inherited socket' });
  process.exit(3);
}
report('S', 'started', {});
let read = 0;
const hash = createHash('sha256');
let head = Buffer.alloc(0);
let done = false;
const outcome = (fields: Record<string, unknown>): void => {
  if (done) return;
  done = true;
  report('S', 'outcome', { read, sha: hash.copy().digest('hex'), head: head.toString('hex'), remote: socket.remoteAddress, ...fields });
};
socket.on('error', (error) => outcome({ outcome: 'error', code: codeOf(error) }));
socket.on('close', () => outcome({ outcome: 'complete' }));
let serving = false;
const serve = (): void => {
  if (serving) return;
  serving = true;
  socket.on('data', (chunk: Buffer) => {
    if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
    hash.update(chunk);
    read += chunk.length;
    socket.write(chunk);
  });
  socket.on('end', () => socket.end());
};
process.on('message', (message) => {
  if (message === 'go') serve();
});
process.on('disconnect', serve);
