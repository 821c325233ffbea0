/**
 * The cost of a handoff and of the emulation, each figure beside a Node baseline measured in the
 * same run (as bench/transport.bench.ts does), printed as a ratio with its target:
 *
 * (a) handoff latency: trigger → the successor's first read of a byte the peer wrote after the
 *     trigger, rebind's `handoff(socket, worker)` to a long-lived worker (`acceptHandoffs`) beside
 *     Node's handle passing `child.send('socket', socket)` to a long-lived child; median and p99.
 *     Both instants are taken on the machine's shared clock (performance.timeOrigin +
 *     performance.now()): the trigger in this process, the first read in the child.
 * (b) per handoff, Fig. 9 order (§6.2) vs fast order (§6.3): wire round trips, counted from the
 *     peer's trace (§13.1, `setTraceHook`), and the peer's stall (§6.7), from the SUSPEND's arrival
 *     at the peer to its REBOUND (the commit at which it may send again), against the round trips
 *     of the spec's table in §6.3.
 * (c) bulk one-way throughput of an emulated socket (RebindSocket) beside a raw `net.Socket`.
 * (d) time to a ready child: rebind's `fork` with N connections to inherit beside plain
 *     `child_process.fork` of the same module.
 *
 * The peer and the origin live in this process; successors are child processes.
 *
 * Run: `npm run bench` (or `node --import ./scripts/register-ts.mjs bench/handoff.bench.ts`).
 * Sizes can be changed with the environment: BENCH_HANDOFFS (200), BENCH_TRACED (100),
 * BENCH_MB (256), BENCH_ROUNDS (5), BENCH_FORKS (30), BENCH_CONNECTIONS (8).
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  RebindError,
  Runtime,
  connect,
  createServer,
  fork,
  handoff,
  setTraceHook,
  type HostTraceEvent,
  type RebindServer,
  type RebindSocket,
} from '../reference/index.js';
import type { FirstRead } from './fixtures/report.js';
import { transpileForChildren } from './transpile.js';

/** Where the child modules are: `fixture('ready')` is the path of bench/fixtures/ready.ts as JavaScript. */
export interface Children {
  fixture(name: string): string;
}

/** Options of every child: plain JavaScript, no TypeScript loader (see transpile.ts); IPC for the reports. */
const CHILD = { execArgv: [] as string[], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[] };

/** Milliseconds on the clock shared by the processes of the machine. */
export const now = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Statistics and printing.

/** The value at quantile `q` (nearest rank) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** One printed figure: value, target and whether it met it. */
function figure(label: string, value: string, target: string, met: boolean | undefined): string {
  const verdict = met === undefined ? 'no target' : met ? 'MET' : 'NOT MET';
  return `    ${label.padEnd(46)} ${value.padEnd(30)} target ${target.padEnd(9)} ${verdict}`;
}

const ms = (value: number): string => `${value.toFixed(3)} ms`;

// ---------------------------------------------------------------------------------------------
// Child processes.

/** The next IPC message of `child` whose `kind` is `kind` (rejects if the child exits first). */
function nextMessage<T extends { kind: string }>(child: ChildProcess, kind: T['kind'], timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: unknown): void => {
      if ((message as { kind?: string } | null)?.kind !== kind) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) before '${kind}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${kind}' from child ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Ends `child` and waits for it to be gone. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

/** The bytes the peer writes after trigger `i`: recognisable, so a lost, repeated or reordered byte shows. */
export function handoffPayload(i: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let k = 0; k < bytes; k++) out[k] = (i * 131 + k * 7 + 1) & 0xff;
  return out;
}

/** One measured handoff. */
export interface HandoffSample {
  /** Trigger → the successor's first read of a byte written after the trigger, ms. */
  readonly latency: number;
  /** Whether the successor read exactly the bytes the peer wrote. */
  readonly exact: boolean;
  /** The trigger instant, ms on the shared clock. */
  readonly start: number;
  /** The connection's cid (rebind only), to find its trace events. */
  readonly cid?: string;
}

// ---------------------------------------------------------------------------------------------
// (a), (b): rebind's handoff to a long-lived worker.

/**
 * Workaround of a reference bug at commit e58f9ed (reported in /tmp/bench-report.md; a fix is under
 * way): `handoff()` registers its commit waiter before the worker has adopted the record, and
 * `ConnectionHost.checkOutcome` reads any input to an origin in OPEN with a waiter (the worker's
 * JOIN, the peer's DATA written right after the trigger) as an aborted handoff. So `handoff()`
 * rejects with this REVOKED although the handoff then runs and commits — and while it still awaits
 * the worker, the rejection is unhandled and would end the process. The bench takes the worker's
 * first-read report as the proof of the commit and ignores exactly this error; with the fix it
 * never occurs.
 */
const SPURIOUS_REVOKE = 'the handoff was aborted; the connection resumed here';

function isSpuriousRevoke(reason: unknown): boolean {
  return reason instanceof RebindError && reason.code === 'ERR_REVOKED' && reason.message.startsWith(SPURIOUS_REVOKE);
}

function ignoreSpuriousRevoke(reason: unknown): void {
  if (!isSpuriousRevoke(reason)) throw reason;
}

/** While a rig lives: the early rejection inside handoff() is unhandled for a moment; do not die of it. */
let guards = 0;
const onUnhandled = (reason: unknown): void => {
  if (!isSpuriousRevoke(reason)) throw reason;
};
/** …and handled a moment later, when handoff() returns it: no PromiseRejectionHandledWarning for that. */
const onHandledLater = (): void => {};
function guardSpuriousRevoke(on: boolean): void {
  guards += on ? 1 : -1;
  if (on && guards === 1) {
    process.on('unhandledRejection', onUnhandled);
    process.on('rejectionHandled', onHandledLater);
  }
  if (!on && guards === 0) {
    process.off('unhandledRejection', onUnhandled);
    process.off('rejectionHandled', onHandledLater);
  }
}

/** A rebind server and a worker that accepts handoffs; the peer is this process. */
export class RebindHandoffRig {
  private constructor(
    private readonly server: RebindServer,
    private readonly worker: ChildProcess,
    private readonly bytes: number,
    private readonly fast: boolean,
  ) {}

  /** Starts the worker and the server; `fast` is offered by both ends' HELLOs (§6.1) or by neither. */
  static async start(children: Children, options: { bytes: number; fast: boolean }): Promise<RebindHandoffRig> {
    const worker = forkProcess(children.fixture('rebind-worker'), [String(options.bytes)], CHILD);
    await nextMessage(worker, 'ready');
    guardSpuriousRevoke(true);
    const server = createServer({ fast: options.fast });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new RebindHandoffRig(server, worker, options.bytes, options.fast);
  }

  /** One connection, handed to the worker; the peer writes its bytes right after the trigger. */
  async once(i: number): Promise<HandoffSample> {
    const accepted = once(this.server, 'connection') as Promise<[RebindSocket]>;
    const client = connect({ port: this.server.address()!.port, host: '127.0.0.1', fast: this.fast });
    client.on('error', () => {});
    await once(client, 'connect');
    const [socket] = await accepted;
    const payload = handoffPayload(i, this.bytes);
    const report = nextMessage<FirstRead>(this.worker, 'first-read');
    const start = now();
    const committed = handoff(socket, this.worker).catch(ignoreSpuriousRevoke); // the trigger
    client.write(payload);
    const [read] = await Promise.all([report, committed]);
    client.destroy();
    return { latency: read.at - start, exact: Buffer.from(read.data, 'base64').equals(payload), start, cid: socket.cid };
  }

  async close(): Promise<void> {
    this.server.close();
    await stop(this.worker);
    guardSpuriousRevoke(false);
  }
}

/** Node's handle passing to a long-lived child: the baseline of {@link RebindHandoffRig}. */
export class NativeHandoffRig {
  private constructor(
    private readonly server: net.Server,
    private readonly worker: ChildProcess,
    private readonly bytes: number,
  ) {}

  static async start(children: Children, options: { bytes: number }): Promise<NativeHandoffRig> {
    const worker = forkProcess(children.fixture('native-worker'), [String(options.bytes)], CHILD);
    await nextMessage(worker, 'ready');
    // pauseOnConnect: this process never reads, so every byte stays in the kernel for the child
    // (Node's documented way to pass a socket on).
    const server = net.createServer({ pauseOnConnect: true, noDelay: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new NativeHandoffRig(server, worker, options.bytes);
  }

  async once(i: number): Promise<HandoffSample> {
    const accepted = once(this.server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ port: (this.server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
    client.on('error', () => {});
    await once(client, 'connect');
    const [socket] = await accepted;
    const payload = handoffPayload(i, this.bytes);
    const report = nextMessage<FirstRead>(this.worker, 'first-read');
    const start = now();
    this.worker.send('socket', socket); // the trigger
    client.write(payload);
    const read = await report;
    client.destroy();
    return { latency: read.at - start, exact: Buffer.from(read.data, 'base64').equals(payload), start };
  }

  async close(): Promise<void> {
    this.server.close();
    await stop(this.worker);
  }
}

/** (a): `handoffs` measured handoffs of each kind, interleaved, after `warmup` unmeasured ones. */
export async function measureHandoffLatency(
  children: Children,
  options: { handoffs: number; warmup?: number; bytes?: number },
): Promise<{ ours: HandoffSample[]; native: HandoffSample[] }> {
  const bytes = options.bytes ?? 64;
  const ours = await RebindHandoffRig.start(children, { bytes, fast: true });
  const native = await NativeHandoffRig.start(children, { bytes });
  const result = { ours: [] as HandoffSample[], native: [] as HandoffSample[] };
  try {
    const warmup = options.warmup ?? 10;
    for (let i = 0; i < warmup + options.handoffs; i++) {
      const a = await ours.once(i);
      const b = await native.once(i);
      if (i < warmup) continue;
      result.ours.push(a);
      result.native.push(b);
    }
  } finally {
    await ours.close();
    await native.close();
  }
  return result;
}

/** (b) for one handoff: what the peer's trace shows. */
export interface PeerStall {
  /** SUSPEND's arrival at the peer → its REBOUND (it may send on C2 again), ms (§6.7: d..g). */
  readonly stall: number;
  /**
   * Round trips during the stall, counted from the peer's events: a reply (REBIND, ATTACHED) to a
   * message it sent since the last one counts 1, and so does the TCP connect of C2 (K = 1 RTT).
   */
  readonly stallRoundTrips: number;
  /** Trigger → peer may send on C2: the stall plus the SUSPEND's way in (0.5), as §6.3 counts. */
  readonly roundTrips: number;
  /** Wire messages the peer sent and received in the handoff (DATA aside). */
  readonly wireMessages: number;
  /** Instants of the handoff (shared clock, ms): the origin sends SUSPEND, the peer sends REBOUND (when the origin's events were given). */
  readonly suspendSent?: number;
  readonly reboundSent: number;
}

const HANDOFF_WIRE = new Set(['SUSPEND', 'SUSPENDED', 'REBIND', 'ATTACH', 'ATTACHED', 'REBOUND', 'ABORT', 'REFUSE']);
const REPLIES = new Set(['REBIND', 'ATTACHED', 'REFUSE', 'ABORT']);

/** Reads the stall and its round trips from the peer's (`P`) events of one connection (the origin's `O` events give suspendSent). */
export function peerStall(events: readonly HostTraceEvent[]): PeerStall {
  const p = events.filter((e) => e.actor === 'P');
  const from = p.findIndex((e) => e.kind === 'receive' && e.name === 'SUSPEND');
  const to = p.findIndex((e) => e.kind === 'send' && e.name === 'REBOUND');
  if (from < 0 || to < from) throw new Error(`no SUSPEND … REBOUND in the peer's trace:\n${p.map((e) => e.text).join('\n')}`);
  let roundTrips = 0;
  let awaiting = false;
  let wireMessages = 0;
  for (const e of p.slice(from, to + 1)) {
    if (e.kind === 'action' && e.name === 'connect') {
      roundTrips += 1; // the transport's connect before ATTACH may go (K, §6.3)
      awaiting = false;
    } else if (e.kind === 'send' && HANDOFF_WIRE.has(e.name)) {
      wireMessages++;
      awaiting = true;
    } else if (e.kind === 'receive' && HANDOFF_WIRE.has(e.name)) {
      wireMessages++;
      if (awaiting && REPLIES.has(e.name)) roundTrips += 1;
      awaiting = false;
    }
  }
  const stall = p[to]!.time! - p[from]!.time!;
  const suspendSent = events.find((e) => e.actor === 'O' && e.kind === 'send' && e.name === 'SUSPEND')?.time;
  return { stall, stallRoundTrips: roundTrips, roundTrips: roundTrips + 0.5, wireMessages, reboundSent: p[to]!.time!, ...(suspendSent !== undefined ? { suspendSent } : {}) };
}

/** What (b) measures for one order. */
export interface OrderResult {
  readonly samples: HandoffSample[];
  readonly stalls: PeerStall[];
}

/**
 * (b): `handoffs` traced handoffs in each of `orders` (false = Fig. 9, true = fast), one rig per
 * order, interleaved so that a busy machine weighs on every order alike. The trace hook is on only
 * here.
 */
export async function measureOrders(
  children: Children,
  options: { handoffs: number; orders: readonly boolean[]; warmup?: number; bytes?: number },
): Promise<OrderResult[]> {
  const rigs: RebindHandoffRig[] = [];
  const events = new Map<string, HostTraceEvent[]>();
  const previous = setTraceHook((event) => {
    if (event.actor !== 'P' && event.actor !== 'O') return;
    const list = events.get(event.cid) ?? [];
    list.push(event);
    events.set(event.cid, list);
  });
  const results = options.orders.map((): OrderResult => ({ samples: [], stalls: [] }));
  try {
    for (const fast of options.orders) rigs.push(await RebindHandoffRig.start(children, { bytes: options.bytes ?? 64, fast }));
    const warmup = options.warmup ?? 5;
    for (let i = 0; i < warmup + options.handoffs; i++) {
      for (const [k, rig] of rigs.entries()) {
        const sample = await rig.once(i);
        const mine = events.get(sample.cid!) ?? [];
        events.clear();
        if (i < warmup) continue;
        results[k]!.samples.push(sample);
        results[k]!.stalls.push(peerStall(mine));
      }
    }
  } finally {
    setTraceHook(previous);
    for (const rig of rigs) await rig.close();
  }
  return results;
}

/** (b) for one order. */
export async function measureOrder(children: Children, options: { handoffs: number; fast: boolean; warmup?: number; bytes?: number }): Promise<OrderResult> {
  const [result] = await measureOrders(children, { ...options, orders: [options.fast] });
  return result!;
}

// ---------------------------------------------------------------------------------------------
// (c) throughput.

/** Throughput (bytes/s) and CPU seconds per GB of one bulk run, and whether the bytes were exact. */
export interface BulkResult {
  readonly rate: number;
  readonly cpuPerGB: number;
  readonly exact: boolean;
}

/** Checks received bytes against the repeating `pattern` (one write's worth) at stream offset `offset`. */
function matches(chunk: Buffer, offset: number, pattern: Buffer): boolean {
  let at = 0;
  while (at < chunk.length) {
    const p = (offset + at) % pattern.length;
    const n = Math.min(pattern.length - p, chunk.length - at);
    if (chunk.compare(pattern, p, p + n, at, at + n) !== 0) return false;
    at += n;
  }
  return true;
}

/**
 * `total` bytes one way, written `chunk` bytes at a time with 'drain' backpressure, through a raw
 * net.Socket or a RebindSocket, both ends in this process on 127.0.0.1. The clock stops when the
 * last byte is read; then the writer ends and the reader must see 'end' with exactly `total` bytes.
 * `verify` also compares every byte (costly: off for the timed runs).
 */
export async function bulk(kind: 'raw' | 'rebind', options: { total: number; chunk?: number; verify?: boolean }): Promise<BulkResult> {
  const { total } = options;
  const chunk = options.chunk ?? 256 * 1024;
  const pattern = Buffer.alloc(chunk);
  for (let i = 0; i < chunk; i++) pattern[i] = (i * 31 + (i >> 8)) & 0xff;
  let received = 0;
  let exact = true;
  let lastByte!: () => void;
  let ended!: () => void;
  const allRead = new Promise<void>((resolve) => (lastByte = resolve));
  const endRead = new Promise<void>((resolve) => (ended = resolve));
  const onSocket = (socket: net.Socket | RebindSocket): void => {
    socket.on('data', (data: Buffer) => {
      if (options.verify === true && exact) exact = matches(data, received, pattern);
      received += data.length;
      if (received >= total) lastByte();
    });
    socket.on('end', () => ended());
    socket.on('error', () => ended());
  };
  let client: net.Socket | RebindSocket;
  let closeServer: () => void;
  if (kind === 'raw') {
    const server = net.createServer({ noDelay: true }, onSocket);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = net.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
    closeServer = () => server.close();
  } else {
    const server = createServer(onSocket);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = connect({ port: server.address()!.port, host: '127.0.0.1' });
    closeServer = () => server.close();
  }
  await once(client, 'connect');
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < total; sent += chunk) {
    const piece = sent + chunk <= total ? pattern : pattern.subarray(0, total - sent);
    if (!client.write(piece)) await once(client, 'drain');
  }
  await allRead;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  client.end();
  await endRead;
  client.destroy();
  closeServer();
  return { rate: total / seconds, cpuPerGB: (used.user + used.system) / 1e6 / (total / 1e9), exact: exact && received === total };
}

/**
 * (c): `rounds` interleaved runs of each, after `warmup` unmeasured runs of each (default 2: the
 * emulated socket's JavaScript needs a few hundred MB before V8 has optimised it).
 */
export async function measureThroughput(options: { total: number; rounds: number; warmup?: number; verify?: boolean }): Promise<{ raw: BulkResult[]; ours: BulkResult[] }> {
  const result = { raw: [] as BulkResult[], ours: [] as BulkResult[] };
  for (let i = 0; i < (options.warmup ?? 2); i++) {
    await bulk('raw', options);
    await bulk('rebind', options);
  }
  for (let round = 0; round < options.rounds; round++) {
    result.raw.push(await bulk('raw', options));
    result.ours.push(await bulk('rebind', options));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// (d) fork.

/** Time from the call to the child's 'ready' (its own clock reading), ms, and how many sockets it inherited. */
async function forkReady(children: Children, kind: 'plain' | 'rebind', connections: RebindSocket[]): Promise<{ ms: number; sockets: number }> {
  const module = children.fixture('ready');
  const start = now();
  const child = kind === 'plain' ? forkProcess(module, [], CHILD) : await fork(module, [], { ...CHILD, connections });
  try {
    const ready = await nextMessage<{ kind: 'ready'; at: number; sockets: number }>(child, 'ready');
    return { ms: ready.at - start, sockets: ready.sockets };
  } finally {
    await stop(child);
  }
}

/** (d): `forks` children of each kind, interleaved, after `warmup` (default 2) of each; rebind's inherit `connections` connections. */
export async function measureFork(
  children: Children,
  options: { forks: number; connections: number; warmup?: number },
): Promise<{ plain: number[]; ours: number[]; inheritedOk: boolean }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets: RebindSocket[] = [];
  const clients: RebindSocket[] = [];
  for (let i = 0; i < options.connections; i++) {
    const accepted = once(server, 'connection') as Promise<[RebindSocket]>;
    const client = connect({ port: server.address()!.port, host: '127.0.0.1' });
    client.on('error', () => {});
    await once(client, 'connect');
    clients.push(client);
    sockets.push((await accepted)[0]);
  }
  const result = { plain: [] as number[], ours: [] as number[], inheritedOk: true };
  try {
    for (let i = 0; i < (options.warmup ?? 2); i++) {
      await forkReady(children, 'plain', sockets);
      await forkReady(children, 'rebind', sockets);
    }
    for (let i = 0; i < options.forks; i++) {
      const plain = await forkReady(children, 'plain', sockets);
      const ours = await forkReady(children, 'rebind', sockets);
      result.plain.push(plain.ms);
      result.ours.push(ours.ms);
      if (plain.sockets !== 0 || ours.sockets !== options.connections) result.inheritedOk = false;
    }
  } finally {
    for (const c of clients) c.destroy();
    for (const s of sockets) s.destroy();
    server.close();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The run.

async function main(): Promise<void> {
  const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
  const HANDOFFS = env('BENCH_HANDOFFS', 200);
  const TRACED = env('BENCH_TRACED', 100);
  const MB = env('BENCH_MB', 256);
  const ROUNDS = env('BENCH_ROUNDS', 5);
  const FORKS = env('BENCH_FORKS', 30);
  const CONNECTIONS = env('BENCH_CONNECTIONS', 8);
  const began = now();
  const children = await transpileForChildren();
  console.log(`handoff bench (node ${process.version}, ${process.platform}/${process.arch}): every baseline is measured in this run; ratios are ours/baseline`);

  // (a)
  const latency = await measureHandoffLatency(children, { handoffs: HANDOFFS });
  const exactA = [...latency.ours, ...latency.native].every((s) => s.exact);
  const lo = latency.ours.map((s) => s.latency);
  const ln = latency.native.map((s) => s.latency);
  console.log(`\n(a) handoff latency: trigger → successor's first read of a byte the peer wrote after it; ${HANDOFFS} of each, interleaved; bytes exact: ${exactA}`);
  console.log('    (rebind: fast order; the peer writes right after the trigger on both sides)');
  console.log(figure("native child.send('socket')  median / p99", `${ms(median(ln))} / ${ms(quantile(ln, 0.99))}`, 'baseline', undefined));
  console.log(figure('rebind handoff(socket, worker)  median / p99', `${ms(median(lo))} / ${ms(quantile(lo, 0.99))}`, 'none set', undefined));
  // Target of issue 3: ≤ 1.0× native handle passing, median and p99. Native passing is one sendmsg
  // with SCM_RIGHTS; a rebind handoff is ≥ 2 wire round trips plus a TCP connect (§6.3).
  const medianRatio = median(lo) / median(ln);
  const p99Ratio = quantile(lo, 0.99) / quantile(ln, 0.99);
  console.log(figure('ratio ours/native  median', `${medianRatio.toFixed(2)}×`, '≤ 1.0×', medianRatio <= 1));
  console.log(figure('ratio ours/native  p99', `${p99Ratio.toFixed(2)}×`, '≤ 1.0×', p99Ratio <= 1));

  // (b)
  const [fig9, fast] = (await measureOrders(children, { handoffs: TRACED, orders: [false, true] })) as [OrderResult, OrderResult];
  const exactB = [...fig9.samples, ...fast.samples].every((s) => s.exact);
  type Count = 'roundTrips' | 'stallRoundTrips' | 'wireMessages';
  const count = (r: { stalls: PeerStall[] }, k: Count): string => {
    const values = new Set(r.stalls.map((s) => s[k]));
    return values.size === 1 ? String([...values][0]) : `${median(r.stalls.map((s) => s[k]))} (varies: ${[...values].join(', ')})`;
  };
  const stallOf = (r: { stalls: PeerStall[] }): number[] => r.stalls.map((s) => s.stall);
  console.log(`\n(b) per handoff, Fig. 9 order vs fast order; ${TRACED} traced handoffs of each, interleaved; counted from the peer's trace; bytes exact: ${exactB}`);
  for (const [name, run, total, stall] of [['Fig. 9', fig9, '3.5', '3'], ['fast  ', fast, '2.5', '2']] as const) {
    console.log(figure(`${name} wire RTTs, trigger → peer may send`, `${count(run, 'roundTrips')} RTT`, `${total} §6.3`, count(run, 'roundTrips') === total));
    console.log(figure(`${name} wire RTTs in the peer stall`, `${count(run, 'stallRoundTrips')} RTT`, `${stall} §6.3`, count(run, 'stallRoundTrips') === stall));
    console.log(figure(`${name} wire messages, SUSPEND … REBOUND`, count(run, 'wireMessages'), 'none set', undefined));
    console.log(figure(`${name} peer stall  median / p99`, `${ms(median(stallOf(run)))} / ${ms(quantile(stallOf(run), 0.99))}`, 'none set', undefined));
    console.log(figure(`${name} handoff latency (traced)  median`, ms(median(run.samples.map((s) => s.latency))), 'none set', undefined));
  }
  console.log('    where the time goes (medians, ms from the trigger): origin sends SUSPEND / peer sends REBOUND / successor reads');
  for (const [name, run] of [['Fig. 9', fig9], ['fast  ', fast]] as const) {
    const at = (pick: (s: PeerStall, h: HandoffSample) => number | undefined): string =>
      median(run.stalls.map((s, i) => (pick(s, run.samples[i]!) ?? Number.NaN) - run.samples[i]!.start)).toFixed(3);
    console.log(`      ${name}  ${at((s) => s.suspendSent)} / ${at((s) => s.reboundSent)} / ${at((_s, h) => h.start + h.latency)}`);
  }
  const stallRatio = median(stallOf(fast)) / median(stallOf(fig9));
  console.log(figure('ratio fast/Fig. 9  stall median', `${stallRatio.toFixed(2)}×`, '< 1×', stallRatio < 1));

  // (c)
  const bulkRuns = await measureThroughput({ total: MB * 1024 * 1024, rounds: ROUNDS });
  const exactC = [...bulkRuns.raw, ...bulkRuns.ours].every((r) => r.exact);
  const rawRate = median(bulkRuns.raw.map((r) => r.rate));
  const ourRate = median(bulkRuns.ours.map((r) => r.rate));
  const rawCpu = median(bulkRuns.raw.map((r) => r.cpuPerGB));
  const ourCpu = median(bulkRuns.ours.map((r) => r.cpuPerGB));
  const pairRatio = median(bulkRuns.ours.map((r, i) => r.rate / bulkRuns.raw[i]!.rate));
  console.log(`\n(c) one-way bulk throughput, ${MB} MB in 256 KiB writes, both ends in this process; ${ROUNDS} rounds interleaved after 2 warm-ups; medians; bytes counted exact: ${exactC}`);
  console.log(figure('raw net.Socket', `${(rawRate / 1e6).toFixed(0)} MB/s  ${rawCpu.toFixed(3)} CPU s/GB`, 'baseline', undefined));
  console.log(figure('RebindSocket', `${(ourRate / 1e6).toFixed(0)} MB/s  ${ourCpu.toFixed(3)} CPU s/GB`, 'none set', undefined));
  console.log(figure('ratio ours/raw  throughput', `${(ourRate / rawRate).toFixed(3)}×`, '≥ 0.9×', ourRate / rawRate >= 0.9));
  console.log(figure('  (median of the per-round ratios)', `${pairRatio.toFixed(3)}×`, '≥ 0.9×', pairRatio >= 0.9));
  console.log(figure('ratio raw/ours  CPU per GB', `${(rawCpu / ourCpu).toFixed(3)}×`, 'none set', undefined));

  // (d)
  const forks = await measureFork(children, { forks: FORKS, connections: CONNECTIONS });
  const plainMs = median(forks.plain);
  const oursMs = median(forks.ours);
  console.log(`\n(d) fork → child ready ('ready' over IPC, child's clock); ${FORKS} of each, interleaved after 2 warm-ups; medians; ${CONNECTIONS} connections inherited: ${forks.inheritedOk}`);
  console.log(figure('child_process.fork', ms(plainMs), 'baseline', undefined));
  console.log(figure(`rebind fork, ${CONNECTIONS} connections`, ms(oursMs), 'none set', undefined));
  console.log(figure('ratio ours/plain  median', `${(oursMs / plainMs).toFixed(3)}×`, '≤ 1.05×', oursMs / plainMs <= 1.05));

  console.log(`\nhandoff bench: ${((now() - began) / 1000).toFixed(1)} s`);
  await Runtime.current().shutdown();
  await children.remove();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
