/**
 * The peer (§2.1) of the fault tests, in its own process (so that it can die too): it connects to
 * the origin, writes `FAULT_TOTAL` bytes of the pattern with at most `FAULT_WINDOW` bytes not yet
 * echoed, checks that the echo is the pattern byte-exact (its application-level record of what the
 * server side acknowledged), and ends once everything came back.
 * Environment: FAULT_REPORT, FAULT_KILL_P, FAULT_PORT (else the port comes as an IPC message), FAULT_HOST,
 * FAULT_TOTAL, FAULT_WINDOW.
 */
import { connect } from '../../../../reference/index.js';
import { codeOf, matchesPattern, pattern, report, setUp } from './common.js';

setUp('P');
const total = Number(process.env.FAULT_TOTAL ?? 64 * 1024);
const windowBytes = Number(process.env.FAULT_WINDOW ?? 16 * 1024);
const CHUNK = 4096;
let sent = 0;
let echoed = 0;
let echoOk = true;
let ended = false;
let done = false;
const started = Date.now();
const outcome = (fields: Record<string, unknown>): void => {
  if (done) return;
  done = true;
  report('P', 'outcome', { sent, echoed, echoOk, ended, ms: Date.now() - started, ...fields });
};
/** The origin's port: FAULT_PORT, or the first IPC message (the test starts both processes at once). */
const port = process.env.FAULT_PORT !== undefined
  ? Number(process.env.FAULT_PORT)
  : await new Promise<number>((resolve) => process.once('message', (message) => resolve(Number((message as { port: number }).port))));
process.disconnect?.();
const socket = connect({ port, host: process.env.FAULT_HOST ?? '127.0.0.1' });
const pump = (): void => {
  while (sent < total && sent - echoed < windowBytes) {
    const n = Math.min(CHUNK, total - sent, windowBytes - (sent - echoed));
    socket.write(pattern(sent, n));
    sent += n;
  }
};
socket.on('connect', () => {
  report('P', 'connected', {});
  pump();
});
socket.on('data', (chunk: Buffer) => {
  if (!matchesPattern(chunk, echoed)) echoOk = false;
  echoed += chunk.length;
  if (echoed > sent) echoOk = false;
  if (echoed >= total) socket.end();
  else pump();
});
socket.on('end', () => {
  ended = true;
});
socket.on('error', (error) => outcome({ outcome: 'error', code: codeOf(error) }));
socket.on('close', () => outcome({ outcome: echoed === total && ended ? 'complete' : 'closed-early' }));
