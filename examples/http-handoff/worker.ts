/**
 * The worker of the HTTP handoff example: it receives connections from its parent with
 * `acceptHandoffs` (spec §10.2) and gives each to its own HTTP server, which serves the requests
 * that follow on the same connection. Started by server.ts, not by hand.
 */
import { acceptHandoffs } from '../../reference/index.js';
import { createApp } from './app.js';

const log = (text: string): void => console.log(`[worker ${process.pid}] ${text}`);
const app = createApp();

acceptHandoffs((socket) => {
  log(`received connection cid=${socket.cid} (${socket.protocolState})`);
  socket.on('error', (error: Error & { code?: string }) => log(`cid=${socket.cid}: ${error.code ?? ''} ${error.message}`));
  socket.on('close', () => log(`cid=${socket.cid} closed`));
  // The HTTP server reads at once: T3 on the dormant handle; the read waits for the commit (§2.4).
  app.emit('connection', socket);
});

process.send?.({ ready: true });
// Without its parent the worker still owns the connections it took over: it serves them until they
// close, then its event loop runs dry and it exits.
process.on('disconnect', () => log('the parent is gone; serving the connections this worker owns until they close'));
