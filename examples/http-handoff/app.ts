/**
 * The web application both processes run: every response says which process served it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The body of the response to `request` from this process. */
export function responseBody(request: IncomingMessage): string {
  return `served by pid ${process.pid}: ${request.method} ${request.url}\n`;
}

/** An HTTP server (not listening: sockets are given to it with `emit('connection', socket)`). */
export function createApp(): Server {
  return createServer({ keepAliveTimeout: 30_000 }, (request: IncomingMessage, response: ServerResponse) => {
    request.resume(); // a body, if any, is read and ignored
    request.on('end', () => {
      response.setHeader('Content-Type', 'text/plain');
      response.setHeader('X-Served-By', String(process.pid));
      response.end(responseBody(request));
    });
  });
}
