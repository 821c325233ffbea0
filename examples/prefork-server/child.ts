/**
 * The child of the prefork server: it serves the one connection it inherited (spec §2.3).
 *
 * Protocol, one line each way: the child greets with `WELCOME <pid>`; for each line the client
 * sends, it answers `<pid> <LINE IN UPPER CASE>`; on `QUIT` it answers `<pid> BYE` and closes.
 *
 * The handle starts dormant; the child's first read (T3) or write (T4), or the parent's close
 * (T1), starts the handoff. Until it commits, reads wait and writes are held (§6.4, §6.7).
 */
import { StringDecoder } from 'node:string_decoder';
import { inherited } from '../../reference/index.js';

const number = process.argv[2] ?? '?';
const [socket] = await inherited();
if (socket === undefined) {
  console.error(`[child ${process.pid}] started without an inherited connection (run server.ts, not this file)`);
  process.exit(1);
}

console.log(`[child ${process.pid}] holds connection #${number} cid=${socket.cid} (${socket.protocolState})`);
socket.on('error', (error: Error & { code?: string }) => console.log(`[child ${process.pid}] ${error.code ?? ''} ${error.message}`));
socket.on('close', () => console.log(`[child ${process.pid}] connection #${number} closed`));

socket.write(`WELCOME ${process.pid}\n`); // T4: held until the successor may send (§6.7)

// Bytes, decoded here rather than with setEncoding: the trace hooks record reads of bytes (§13.1).
const decoder = new StringDecoder('utf8');
let pending = '';
socket.on('data', (chunk: Buffer) => {
  pending += decoder.write(chunk);
  let newline: number;
  while ((newline = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, newline).replace(/\r$/, '');
    pending = pending.slice(newline + 1);
    if (line === 'QUIT') {
      socket.end(`${process.pid} BYE\n`); // FIN after the last line (§9.7)
      return;
    }
    socket.write(`${process.pid} ${line.toUpperCase()}\n`);
  }
});
socket.on('end', () => socket.end());
