/**
 * The client of the HTTP handoff example: Node's http client with a keep-alive Agent limited to
 * one socket, whose connections are rebind connections (`createConnection` returns rebind's
 * `connect`). It sends its requests one after another and prints, for each response, the pid that
 * served it and which socket carried it.
 *
 *   node --import ./scripts/register-ts.mjs examples/http-handoff/client.ts PORT [COUNT]
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect, type RebindSocket } from '../../reference/index.js';

const port = Number(process.argv[2] ?? 8080);
const count = Number(process.argv[3] ?? 3);

/** Every socket the agent asked for, in order: one is the point. */
const sockets: RebindSocket[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
// The agent makes its connections with rebind's connect (the server speaks the rebind protocol).
(agent as unknown as { createConnection: () => Duplex }).createConnection = () => {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  return socket;
};

function get(path: string): Promise<{ response: IncomingMessage; body: string; socket: RebindSocket }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (response) => {
      const socket = response.socket as unknown as RebindSocket;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ response, body, socket }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

try {
  for (let i = 1; i <= count; i++) {
    const { response, body, socket } = await get(`/${i}`);
    const servedBy = response.headers['x-served-by'];
    console.log(`GET /${i} -> ${response.statusCode} pid=${servedBy} socket=#${sockets.indexOf(socket) + 1} cid=${socket.cid} body=${JSON.stringify(body)}`);
  }
  console.log(`client: ${count} responses over ${sockets.length} connection(s)`);
} catch (error) {
  const e = error as Error & { code?: string };
  console.error(`client: ${e.code ?? ''} ${e.message}`);
  process.exitCode = 1;
} finally {
  agent.destroy();
}
