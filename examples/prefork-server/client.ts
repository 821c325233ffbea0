/**
 * A client of the prefork server: it connects, sends a few lines one at a time, and prints the
 * answers and the pid of the process that served it.
 *
 *   node --import ./scripts/register-ts.mjs examples/prefork-server/client.ts PORT [LINE...]
 *
 * The first line is sent at once, possibly while the parent still holds the connection: the
 * handoff's copy (spec §6.5) carries it to the child, so nothing is lost either way.
 */
import { StringDecoder } from 'node:string_decoder';
import { connect } from '../../reference/index.js';

const port = Number(process.argv[2] ?? 7070);
const lines = process.argv.length > 3 ? process.argv.slice(3) : ['hello', 'prefork world'];

const socket = connect(port, '127.0.0.1');
const decoder = new StringDecoder('utf8');
socket.on('error', (error: Error & { code?: string }) => {
  console.error(`client: ${error.code ?? ''} ${error.message}`);
  process.exitCode = 1;
});

const servedBy = new Set<string>();
let pending = '';
let next = 0;

/** One line out; the next goes when its answer is in. */
function sendNext(): void {
  const line = next < lines.length ? lines[next++]! : 'QUIT';
  console.log(`> ${line}`);
  socket.write(`${line}\n`);
}

socket.on('connect', () => {
  console.log(`client: connected to 127.0.0.1:${port} cid=${socket.cid}`);
  sendNext();
});
socket.on('data', (chunk: Buffer) => {
  pending += decoder.write(chunk);
  let newline: number;
  while ((newline = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    console.log(`< ${line}`);
    const pid = /^(?:WELCOME )?(\d+)/.exec(line)?.[1];
    if (pid !== undefined) servedBy.add(pid);
    if (line.startsWith('WELCOME')) continue;
    if (line.endsWith(' BYE')) continue;
    sendNext();
  }
});
socket.on('end', () => {
  console.log(`client: served by pid ${[...servedBy].join(', ')}`);
  socket.end();
});
