/**
 * Node's own HTTP server over rebind sockets, with a keep-alive connection handed to a worker
 * process between two requests (spec §10.2 worker pools, §2.4 T1, §6).
 *
 * The parent accepts with rebind's `createServer` and gives each socket to an ordinary
 * `http.Server` (`emit('connection', socket)`). After the first response on a connection it takes
 * the socket back from its HTTP server between two requests (./http-attach.ts) and hands the
 * connection to a running worker with `handoff(socket, worker)`; the worker's HTTP server serves
 * the next requests on the same connection. The client notices nothing but the pid in the replies.
 *
 * Run from the repository root:
 *   node --import ./scripts/register-ts.mjs examples/http-handoff/server.ts [PORT]
 *   node --import ./scripts/register-ts.mjs examples/http-handoff/client.ts PORT
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createServer, handoff, type RebindSocket } from '../../reference/index.js';
import { createApp } from './app.js';
import { attachHttp } from './http-attach.js';

const workerModule = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url));
const port = Number(process.argv[2] ?? 8080);
const log = (text: string): void => console.log(`[parent ${process.pid}] ${text}`);

/** A worker: any child with an IPC channel that calls acceptHandoffs (here a plain child_process.fork). */
async function startWorker(): Promise<ChildProcess> {
  const worker = forkProcess(workerModule, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // acceptHandoffs listens on the IPC channel: wait until it does, or a handoff message would be lost.
  const [message] = (await once(worker, 'message')) as [{ ready?: boolean }];
  if (message.ready !== true) throw new Error('the worker did not start');
  return worker;
}

const worker = await startWorker();
log(`worker pid ${worker.pid} is ready`);
worker.on('exit', (code, signal) => log(`worker exited (${signal ?? code})`));

const app = createApp();
let connections = 0;

/** Serves the first request here, then hands the connection to the worker. */
function serve(socket: RebindSocket): void {
  const number = ++connections;
  log(`connection #${number} accepted, cid=${socket.cid} (connections accepted so far: ${connections})`);
  socket.on('error', (error: Error & { code?: string }) => log(`connection #${number}: ${error.code ?? ''} ${error.message}`));
  attachHttp(app, socket, (attachment) => {
    if (attachment.answered < 1) return;
    if (!attachment.detach()) return; // a request is under way: try again after its response
    log(`connection #${number}: served ${attachment.answered} request(s), handing it to worker pid ${worker.pid}`);
    handoff(socket, worker).then(
      () => log(`connection #${number}: handoff committed, the worker owns it now (spec §6.6)`),
      (error: Error & { code?: string }) => log(`connection #${number}: handoff failed: ${error.code ?? ''} ${error.message}`),
    );
  });
}

const server = createServer(serve);
server.on('error', (error: Error) => {
  console.error(`[parent ${process.pid}] ${error.message}`);
  worker.kill();
  process.exitCode = 1;
});
server.listen(port, '127.0.0.1', () => log(`http server listening on 127.0.0.1:${server.address()?.port}`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    worker.kill();
    server.close(() => process.exit(0));
  });
}
