/**
 * A forked successor for the trace-hook tests: argv[2] says what its application does with the
 * inherited socket — `read` (T3), `write` (T4) or `wait` (nothing: the parent's close is T1) —
 * then it echoes everything upper-cased and ends when the peer ends.
 */
import { inherited } from '../../../../reference/index.js';

const mode = process.argv[2] ?? 'wait';
const [socket] = await inherited();
if (socket === undefined) process.exit(3);
const serve = (): void => {
  socket.on('data', (chunk: Buffer) => socket.write(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1')));
  socket.on('end', () => socket.end());
};
if (mode === 'write') {
  socket.write('successor here\n');
  serve();
} else if (mode === 'read') serve();
else setTimeout(serve, 300); // T1 from the parent starts the handoff; reading later only drains
socket.on('error', (error) => {
  console.error(`successor: ${error.message}`);
  process.exitCode = 1;
});
