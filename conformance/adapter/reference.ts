/**
 * The reference implementation's adapter for the conformance kit (spec §15.1): a process that
 * joins the kit's control channel and turns its commands into calls of the library
 * (reference/node). `conformance run --impl reference` starts it; every process it forks runs this
 * same module and joins the kit too.
 *
 * @module
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { RebindError } from '../../reference/errors.js';
import { read } from './recv.js';
import { acceptHandoffs, configure, connect, createServer, exit, fork, handoff, inherited, setTraceHook, type RebindServer, type RebindSocket } from '../../reference/node/index.js';
import { rdmaInterfaceAddress } from '../../reference/transport/rdma/index.js';

const FEATURES = ['fast', 'join', 'chain'] as const;
const SELF = fileURLToPath(import.meta.url);

type Line = Record<string, unknown>;

const kit = process.env.REBIND_KIT ?? '';
const token = process.env.REBIND_KIT_TOKEN ?? '';
const parent = process.env.REBIND_KIT_PARENT !== undefined ? Number(process.env.REBIND_KIT_PARENT) : null;
const handles = new Map<string, RebindSocket>();
const listeners = new Map<string, RebindServer>();
const children = new Map<number, ChildProcess>();
let accepted = 0;
let control: Socket;

function send(line: Line): void {
  control.write(`${JSON.stringify(line)}\n`);
}

function codeOf(error: unknown): string {
  return error instanceof RebindError ? error.code : 'ERR_INTERNAL';
}

/** Registers a handle: its failures, end and moves become events (§15.1). */
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

function hostPort(addr: string): { host: string; port: number } {
  const match = /^tcp:\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (match === null) throw new RebindError('INVALID_ARGUMENT', `not a tcp:// address: ${addr}`, { section: '3.2' });
  return { host: match[1]!, port: Number(match[2]) };
}

/** The run's transport (§15.1 `REBIND_KIT_TRANSPORT`): `tcp` (default) or `rdma` (§11.2). */
const transport = process.env.REBIND_KIT_TRANSPORT === 'rdma' ? 'rdma' : 'tcp';

/**
 * Where `listen`/`connect` go (§3.2 addresses, §11): `tcp://…` or `rdma://…` as given; in a run
 * over RDMA a `tcp://` address to listen on names the same port on this host's RDMA interface
 * (§15.1: the listener is answered as `rdma://IP:PORT`).
 */
function wireAddress(addr: string, listening = false): { scheme: 'tcp' | 'rdma'; host: string; port: number } {
  const match = /^(tcp|rdma):\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (match === null) throw new RebindError('INVALID_ARGUMENT', `not a tcp:// or rdma:// address: ${addr}`, { section: '3.2' });
  const [, scheme, host, port] = match as unknown as [string, 'tcp' | 'rdma', string, string];
  if (scheme === 'tcp' && transport === 'rdma' && listening) {
    const ip = rdmaInterfaceAddress();
    if (ip === undefined) throw new RebindError('NO_DEVICE', 'REBIND_KIT_TRANSPORT=rdma, but no network interface of this host has an RDMA device', { section: '11.2' });
    return { scheme: 'rdma', host: ip, port: Number(port) };
  }
  return { scheme, host, port: Number(port) };
}

async function run(line: Line): Promise<Line | undefined> {
  switch (line.op) {
    case 'configure':
      configure({ ...(line.timers !== undefined ? { timers: line.timers as Record<string, number> } : {}), ...(line.fast !== undefined ? { fast: line.fast === true } : {}) });
      return {};
    case 'listen': {
      const { scheme, host, port } = wireAddress(String(line.addr), true);
      const name = `l${listeners.size + 1}`;
      const server = createServer({ transport: scheme }, (socket) => {
        const handleName = `a${++accepted}`;
        track(handleName, socket);
        send({ type: 'event', event: 'accepted', handle: handleName, listener: name });
      });
      listeners.set(name, server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      return { addr: server.transportAddress, listener: name };
    }
    case 'connect': {
      const { scheme, host, port } = wireAddress(String(line.addr));
      const socket = connect({ host, port, transport: scheme });
      socket.pause();
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      track(String(line.handle), socket);
      return { cid: socket.cid };
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
      handle(line).destroy();
      return {};
    case 'fork': {
      const names = line.handles === 'all' ? [...handles.keys()].filter((n) => handles.get(n)!.role !== 'peer' && !handles.get(n)!.destroyed) : (line.handles as string[]);
      process.env.REBIND_KIT_PARENT = String(process.pid);
      const child = await fork(SELF, [JSON.stringify(names)], { connections: names.map((n) => handles.get(n)!), execArgv: process.execArgv });
      children.set(child.pid!, child);
      return { pid: child.pid };
    }
    case 'handoff': {
      const child = children.get(Number(line.pid));
      if (child === undefined) throw new RebindError('INVALID_ARGUMENT', `no worker with pid ${String(line.pid)}`, { section: '10.2' });
      await handoff(handle(line), child);
      return {};
    }
    case 'exit':
      void exit(typeof line.code === 'number' ? line.code : 0);
      return undefined;
    case 'crash':
      process.kill(process.pid, 'SIGKILL');
      return undefined;
    case 'probe':
      return (FEATURES as readonly string[]).includes(String(line.feature)) ? {} : undefined;
    default:
      throw new RebindError('UNSUPPORTED', `unknown op ${String(line.op)}`, { section: '15.1' });
  }
}

async function main(): Promise<void> {
  const { host, port } = hostPort(kit);
  control = tcpConnect({ host, port });
  await new Promise<void>((resolve, reject) => {
    control.once('connect', () => resolve());
    control.once('error', reject);
  });
  control.on('close', () => process.exit(0)); // the kit ended the case
  // §15.1: every event of this process goes to the kit as a `trace` line (the case's artefact).
  setTraceHook((e) => send({ type: 'trace', ...(e.cid !== '-' ? { cid: e.cid } : {}), line: e.text }));
  send({ type: 'hello', token, pid: process.pid, parent, implementation: { name: broken === undefined ? 'rebind-reference' : `rebind-reference (broken: ${broken})`, version: '0.1.0' }, roles: ['server', 'peer'], features: [...FEATURES] });
  // A forked child: its dormant handles keep the parent's names (argv); a worker: named on arrival.
  const names = process.argv[2] !== undefined ? (JSON.parse(process.argv[2]) as string[]) : [];
  const sockets = await inherited();
  sockets.forEach((socket, i) => {
    const name = names[i] ?? `i${i + 1}`;
    track(name, socket);
    send({ type: 'event', event: 'inherited', handle: name, cid: socket.cid });
  });
  acceptHandoffs((socket) => {
    const name = `w${handles.size + 1}`;
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
          if (line.op === 'exit' || line.op === 'crash') return;
          if (value === undefined) send({ type: 'result', id: line.id, unsupported: `${String(line.op)} ${String(line.feature ?? '')}: not implemented`.trim() });
          else send({ type: 'result', id: line.id, ok: true, value });
        },
        (error: unknown) => send({ type: 'result', id: line.id, ok: false, error: { code: codeOf(error), message: error instanceof Error ? error.message : String(error) } }),
      );
    }
  });
}

// The kit's own tests (conformance/broken): `REBIND_BROKEN=<name>` runs a deliberately broken
// variant of the reference in this process and in every process it forks (they inherit the
// environment). Unset, nothing is loaded.
const broken = process.env.REBIND_BROKEN !== undefined && process.env.REBIND_BROKEN !== '' ? (await import('../broken/index.js')).installBroken(process.env.REBIND_BROKEN).name : undefined;

await main();
