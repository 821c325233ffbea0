/**
 * One process of the kit's own server side (spec §15.1: the kit plays origin and successor when
 * the implementation is the peer). `kit-server.ts` starts it with `child_process.fork` as the
 * kit's origin; the origin starts each successor with the reference's `fork` (a real child that
 * inherits dormant handles, §2.3), running this same module; a successor that owns the
 * connection may fork again (§10.1).
 *
 * Every such process opens its own TCP line to the kit (`REBIND_KIT_NODE`) and speaks the JSON
 * lines of §15.1 on it (hello, command/result, event, trace), so that a successor keeps its line
 * when its origin is killed (§9.3). It runs the reference library: the kit's origin and successor
 * are the reference implementation, observed through its trace hook.
 *
 * @module
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RebindError } from '../reference/errors.js';
import { Runtime, configure, createServer, fork, inherited, setTraceHook, type RebindServer, type RebindSocket } from '../reference/node/index.js';
import { formatEvent } from '../reference/trace/index.js';
import { read } from './adapter/recv.js';

type Line = Record<string, unknown>;

const SELF = fileURLToPath(import.meta.url);
const handles = new Map<string, RebindSocket>();
const listeners: RebindServer[] = [];
let accepted = 0;
let control: Socket;
/** `crashOn`: kill this process right after it has written the first frame whose trace line matches. */
let crashPattern: RegExp | undefined;

function send(line: Line): void {
  if (!control.destroyed) control.write(`${JSON.stringify(line)}\n`);
}

/** A sudden death (§9.3): `kill` in this process's trace (§13.1), written before the process dies. */
function die(): void {
  const time = Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
  send({ type: 'trace', line: formatEvent({ line: 0, column: 0, time, actor: Runtime.current().actor, kind: 'action', name: 'kill', args: [], fields: {} }) });
  process.kill(process.pid, 'SIGKILL');
}

function codeOf(error: unknown): string {
  return error instanceof RebindError ? error.code : 'ERR_INTERNAL';
}

function track(name: string, socket: RebindSocket): void {
  handles.set(name, socket);
  socket.on('error', (error) => send({ type: 'event', event: 'error', handle: name, code: codeOf(error) }));
  socket.on('close', () => send({ type: 'event', event: 'close', handle: name }));
  socket.on('rebound', () => send({ type: 'event', event: 'rebound', handle: name }));
}

function handle(line: Line): RebindSocket {
  const socket = handles.get(String(line.handle));
  if (socket === undefined) throw new RebindError('INVALID_ARGUMENT', `no handle ${String(line.handle)}`, { section: '15.1' });
  return socket;
}

async function run(line: Line): Promise<Line | undefined> {
  switch (line.op) {
    case 'configure':
      configure({ ...(line.timers !== undefined ? { timers: line.timers as Record<string, number> } : {}), ...(line.fast !== undefined ? { fast: line.fast === true } : {}) });
      return {};
    case 'listen': {
      const server = createServer((socket) => {
        const name = `k${++accepted}`;
        track(name, socket);
        send({ type: 'event', event: 'accepted', handle: name, cid: socket.cid });
      });
      listeners.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      return { addr: `tcp://127.0.0.1:${server.address()!.port}` };
    }
    case 'send': {
      const socket = handle(line);
      await new Promise<void>((resolve, reject) => socket.write(Buffer.from(String(line.data), 'hex'), (error) => (error ? reject(error) : resolve())));
      return {};
    }
    case 'recv':
      return read(handle(line), typeof line.max === 'number' ? line.max : undefined);
    case 'shutdown':
      handle(line).end();
      return {};
    case 'close':
      handle(line).destroy(); // T1 when a successor holds a dormant handle (§2.4)
      return {};
    case 'fork': {
      const names = line.handles as string[];
      const child = await fork(SELF, [JSON.stringify(names)], { connections: names.map((n) => handle({ handle: n })), execArgv: process.execArgv });
      return { pid: child.pid };
    }
    case 'crashOn':
      crashPattern = new RegExp(String(line.pattern));
      return {};
    case 'crash':
      die();
      return undefined;
    default:
      throw new RebindError('UNSUPPORTED', `unknown op ${String(line.op)}`, { section: '15.1' });
  }
}

async function main(): Promise<void> {
  const match = /^tcp:\/\/([^:]+):(\d+)$/.exec(process.env.REBIND_KIT_NODE ?? '');
  if (match === null) throw new Error('REBIND_KIT_NODE is not set: this module is started by conformance/kit-server.ts');
  control = tcpConnect({ host: match[1]!, port: Number(match[2]) });
  await new Promise<void>((resolve, reject) => {
    control.once('connect', () => resolve());
    control.once('error', reject);
  });
  control.on('error', () => {});
  control.on('close', () => process.exit(0)); // the kit ended the case
  setTraceHook((e) => {
    send({ type: 'trace', ...(e.cid !== '-' ? { cid: e.cid } : {}), line: e.text });
    // §9.3: a sudden death at a chosen step. The hook runs before the frame is written; the write
    // is synchronous (or queued by the stream), so the kill waits for the end of this tick.
    if (crashPattern !== undefined && e.kind === 'send' && crashPattern.test(e.text)) process.nextTick(die);
  });
  send({ type: 'hello', pid: process.pid, parent: process.ppid });
  // A successor: its dormant handles keep the parent's names (argv).
  const names = process.argv[2] !== undefined ? (JSON.parse(process.argv[2]) as string[]) : [];
  const sockets = await inherited();
  sockets.forEach((socket, i) => {
    const name = names[i] ?? `i${i + 1}`;
    track(name, socket);
    send({ type: 'event', event: 'inherited', handle: name, cid: socket.cid });
  });
  let buffered = '';
  control.setEncoding('utf8');
  control.on('data', (text: string) => {
    buffered += text;
    let at: number;
    while ((at = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, at)) as Line;
      buffered = buffered.slice(at + 1);
      if (line.type !== 'command') continue;
      run(line).then(
        (value) => {
          if (value !== undefined) send({ type: 'result', id: line.id, ok: true, value });
        },
        (error: unknown) => send({ type: 'result', id: line.id, ok: false, error: { code: codeOf(error), message: error instanceof Error ? error.message : String(error) } }),
      );
    }
  });
}

await main();
