/**
 * A preforking server in the style of PostgreSQL's postmaster (spec §2.3, §2.4 T1).
 *
 * The parent only accepts: for each connection it forks one child that inherits the connection as
 * a dormant handle, then closes its own handle. That close is trigger T1: the connection is handed
 * to the child (suspend, copy, order, attach, commit: spec §6.2/§6.3), and from then on the child
 * talks to the client directly. The parent never reads or writes a byte of any connection; bytes
 * the client sent before the handoff reach the child through the copy (§6.5).
 *
 * Run from the repository root:
 *   node --import ./scripts/register-ts.mjs examples/prefork-server/server.ts [PORT]
 * and, in another terminal:
 *   node --import ./scripts/register-ts.mjs examples/prefork-server/client.ts PORT
 */
import { fileURLToPath } from 'node:url';
import { createServer, fork, type RebindSocket } from '../../reference/index.js';

/** The child module next to this file, as .ts under the TypeScript loader or .js when built. */
const childModule = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './child.ts' : './child.js', import.meta.url));
const port = Number(process.argv[2] ?? 7070);

let accepted = 0;

/** Hands one accepted connection to a freshly forked child. */
async function handOver(socket: RebindSocket): Promise<void> {
  const number = ++accepted;
  // Errors after the close belong to the handoff; log them rather than crash the acceptor.
  socket.on('error', (error: Error & { code?: string }) => console.log(`[parent ${process.pid}] connection #${number}: ${error.code ?? ''} ${error.message}`));
  socket.on('rebound', () => console.log(`[parent ${process.pid}] connection #${number} committed to its child (rebound, spec §6.6)`));
  // The child inherits exactly this connection (not every connection the parent owns).
  const child = await fork(childModule, [String(number)], { connections: [socket] });
  console.log(`[parent ${process.pid}] connection #${number} cid=${socket.cid} forked child pid ${child.pid}`);
  // T1 (spec §2.4): the parent closes its handle while a successor holds a dormant one.
  socket.destroy();
}

const server = createServer((socket) => {
  handOver(socket).catch((error: Error) => {
    console.error(`[parent ${process.pid}] fork failed: ${error.message}`);
    socket.destroy();
  });
});
server.on('error', (error: Error) => {
  console.error(`[parent ${process.pid}] ${error.message}`);
  process.exitCode = 1;
});
server.listen(port, '127.0.0.1', () => {
  console.log(`[parent ${process.pid}] prefork server listening on 127.0.0.1:${server.address()?.port}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[parent ${process.pid}] ${signal}: closing the listener`);
    server.close(() => process.exit(0));
  });
}
