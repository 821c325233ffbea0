/**
 * The RDMA binding's figures (spec §11.2), each beside rdma-core's own tools run in the same
 * guest, printed as ratios:
 *
 * (a) stream throughput: an emulated socket (RebindSocket over `transport: 'rdma'`) writing
 *     BENCH_RDMA_MB MiB one way in 64 KiB writes to a sink in its own process
 *     (bench/fixtures/rdma-server.ts), beside `rstream -S 65536` (rsockets: each iteration streams
 *     `-C` transfers one way, then back) and `ib_send_bw -s 65536` (raw verbs), whose servers are
 *     processes of their own too. Target: ≥ 0.8× rstream.
 * (b) small-message latency: 64 B ping-pong with an echo process over the emulated socket (µs per
 *     one-way transfer, round trip / 2) beside `rstream -S 64` (µs per transfer) and
 *     `ib_send_lat -s 64` (t_typical, µs).
 * (c) handoff latency over RDMA: `handoff(socket, worker)` to a long-lived worker (§10.2) — the
 *     peer connects a new QP to the worker's rdma_cm listener — from the trigger to the worker's
 *     first read of a byte the peer wrote after it; median and p90.
 *
 * It needs an RDMA device: run it in the lab (docs/rdma-lab.md), where rxe0 is soft-RoCE under TCG
 * — the figures are about the emulation's overhead relative to the tools on the same (slow)
 * machine, not about RDMA hardware:
 *
 *   npm run lab -- node --import ./scripts/register-ts.mjs bench/rdma.bench.ts
 *
 * Without a device it prints why and exits 0. Sizes: BENCH_RDMA_MB (16), BENCH_RDMA_PINGS (300),
 * BENCH_RDMA_HANDOFFS (10), BENCH_RDMA_ROUNDS (3; the best round of each stream figure counts).
 * Diagnostics: BENCH_RDMA_ONLY (e.g. `a`), BENCH_RDMA_PROFILE (a directory for the server
 * processes' `--cpu-prof`; the tools are then skipped). docs/rdma-lab.md has the figures.
 */
import { spawn, fork as forkProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, handoff, type RebindServer, type RebindSocket } from '../reference/index.js';
import { rdmaAvailable, rdmaInterfaceAddress } from '../reference/transport/rdma/index.js';
import type { FirstRead } from './fixtures/report.js';
import { transpileForChildren, type Transpiled } from './transpile.js';

const ADDR = process.env.RDMA_LAB_ADDR ?? rdmaInterfaceAddress() ?? '10.77.0.1';
const DEVICE = process.env.RDMA_LAB_DEVICE ?? 'rxe0';
const MB = Number(process.env.BENCH_RDMA_MB ?? 16);
const PINGS = Number(process.env.BENCH_RDMA_PINGS ?? 300);
const HANDOFFS = Number(process.env.BENCH_RDMA_HANDOFFS ?? 10);
const ROUNDS = Number(process.env.BENCH_RDMA_ROUNDS ?? 3);
/** Only some figures: a comma-separated list of a, b, c (diagnostics). */
const ONLY = new Set((process.env.BENCH_RDMA_ONLY ?? 'a,b,c').split(','));
/** A directory for `--cpu-prof` profiles of the server processes (diagnostics; run this process with --cpu-prof too). */
const PROFILE = process.env.BENCH_RDMA_PROFILE;
const CHUNK = 64 * 1024;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// The tools.

/** Runs a command; resolves with its output and exit code (killed after `timeoutMs`). */
function run(command: string, args: readonly string[], timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, out: `${out}${error.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal !== null ? 128 : 1), out });
    });
  });
}

/** Polls `ready` every 100 ms for up to `ms`. */
async function waitFor(ready: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(100)) if (await ready()) return true;
  return false;
}

const cmListening = async (port: number): Promise<boolean> => {
  const { out } = await run('rdma', ['resource', 'show', 'cm_id'], 5000);
  return out.split('\n').some((line) => line.includes('LISTEN') && new RegExp(`:${port}(\\s|$)`).test(line));
};
const tcpListening = async (port: number): Promise<boolean> => (await run('ss', ['-Hltn', `sport = :${port}`], 5000)).out.trim() !== '';

/** A server/client pair of a tool: the server first, the client once `ready`; the client's output. */
async function pair(tool: string, serverArgs: string[], clientArgs: string[], ready: () => Promise<boolean>): Promise<string | undefined> {
  const server = run('timeout', ['120', tool, ...serverArgs]);
  if (!(await waitFor(ready, 30_000))) {
    console.log(`  ${tool}: the server did not listen: ${(await server).out.trim().slice(-300)}`);
    return undefined;
  }
  const client = await run('timeout', ['120', tool, ...clientArgs]);
  const served = await server;
  if (client.code !== 0 || served.code !== 0) {
    console.log(`  ${tool}: client exit ${client.code}, server exit ${served.code}: ${client.out.trim().slice(-300)} ${served.out.trim().slice(-300)}`);
    return undefined;
  }
  return client.out;
}

let toolPort = 7470;

/** rstream (rsockets over rdma_cm): Gb/s and µs per transfer of its result line. */
async function rstream(size: number, count: number, iterations: number): Promise<{ gbps: number; usPerXfer: number } | undefined> {
  const port = ++toolPort;
  const common = ['-S', String(size), '-C', String(count), '-I', String(iterations), '-p', String(port)];
  const out = await pair('rstream', ['-b', ADDR, ...common], ['-s', ADDR, ...common], () => cmListening(port));
  // name bytes xfers iters total time Gb/sec usec/xfer
  const row = out?.trim().split('\n').filter((l) => /\d/.test(l)).pop()?.trim().split(/\s+/);
  if (row === undefined || row.length < 8) return undefined;
  return { gbps: Number(row[row.length - 2]), usPerXfer: Number(row[row.length - 1]) };
}

/** ib_send_bw (raw verbs, GID index 1 = RoCE v2): average MB/s. */
async function ibSendBw(size: number, iterations: number): Promise<number | undefined> {
  const port = ++toolPort + 11000;
  const args = ['-d', DEVICE, '-x', '1', '-s', String(size), '-n', String(iterations), '-p', String(port), '-F'];
  const out = await pair('ib_send_bw', args, [...args, ADDR], () => tcpListening(port));
  // #bytes #iterations BW peak[MB/sec] BW average[MB/sec] MsgRate[Mpps]
  const row = out?.split('\n').map((l) => l.trim().split(/\s+/)).find((r) => r[0] === String(size) && r.length >= 4);
  return row === undefined ? undefined : Number(row[3]);
}

/** ib_send_lat: t_typical µs of 64 B. */
async function ibSendLat(iterations: number): Promise<number | undefined> {
  const port = ++toolPort + 11000;
  const args = ['-d', DEVICE, '-x', '1', '-s', '64', '-n', String(iterations), '-p', String(port), '-F'];
  const out = await pair('ib_send_lat', args, [...args, ADDR], () => tcpListening(port));
  // #bytes #iterations t_min[usec] t_max[usec] t_typical[usec] ...
  const row = out?.split('\n').map((l) => l.trim().split(/\s+/)).find((r) => r[0] === '64' && r.length >= 5);
  return row === undefined ? undefined : Number(row[4]);
}

// ---------------------------------------------------------------------------------------------
// The emulation over RDMA.

async function rdmaServer(onConnection: (socket: RebindSocket) => void): Promise<RebindServer> {
  const server = createServer({ transport: 'rdma' }, onConnection);
  server.listen(0, ADDR);
  await once(server, 'listening');
  return server;
}


/** A server in a child process (bench/fixtures/rdma-server.ts): `sink` or `echo`. */
async function serverProcess(children: Transpiled, mode: 'sink' | 'echo'): Promise<{ child: ChildProcess; port: number }> {
  const execArgv = PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE];
  const child = forkProcess(children.fixture('rdma-server'), [mode, ADDR], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage<{ port: number }>(child, 'ready');
  return { child, port };
}

async function clientTo(port: number): Promise<RebindSocket> {
  const client = connect({ port, host: ADDR, transport: 'rdma' });
  client.on('error', () => {});
  await once(client, 'connect');
  return client;
}

/** (a) One-way to a sink process: `total` bytes in 64 KiB writes, until its 'end'; MB/s (10^6 bytes). */
async function streamOnce(children: Transpiled, total: number): Promise<number> {
  const { child, port } = await serverProcess(children, 'sink');
  try {
    const client = await clientTo(port);
    const sunk = nextMessage<{ bytes: number; at: number }>(child, 'sunk', 300_000);
    const chunk = Buffer.alloc(CHUNK, 0x5a);
    const started = now();
    for (let sent = 0; sent < total; sent += CHUNK) if (!client.write(chunk)) await once(client, 'drain');
    client.end();
    const { bytes, at } = await sunk;
    client.destroy();
    if (bytes !== total) throw new Error(`stream: the sink received ${bytes} of ${total} bytes`);
    return total / 1e6 / ((at - started) / 1000);
  } finally {
    await stopChild(child);
  }
}

/** Ends a server process; with BENCH_RDMA_PROFILE it exits on its own (so that it writes its profile). */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.disconnect();
  else child.kill();
  await Promise.race([exited, sleep(5000)]);
  child.kill('SIGKILL');
}

/** (b) 64 B ping-pong with an echo process: µs per one-way transfer (round trip / 2). */
async function pingPong(children: Transpiled, count: number): Promise<number> {
  const { child, port } = await serverProcess(children, 'echo');
  const client = await clientTo(port);
  const message = Buffer.alloc(64, 0x42);
  const roundTrip = async (): Promise<void> => {
    let got = 0;
    const back = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        got += chunk.length;
        if (got < 64) return;
        client.off('data', onData);
        resolve();
      };
      client.on('data', onData);
    });
    client.write(message);
    await back;
  };
  try {
    for (let i = 0; i < 20; i++) await roundTrip(); // warm-up
    const started = now();
    for (let i = 0; i < count; i++) await roundTrip();
    return ((now() - started) * 1000) / count / 2;
  } finally {
    client.destroy();
    await stopChild(child);
  }
}

/** The next IPC message of `kind` from `child`. */
function nextMessage<T>(child: ChildProcess, kind: string, ms = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} from the worker within ${ms} ms`)), ms);
    const onMessage = (m: unknown): void => {
      if ((m as { kind?: string }).kind !== kind) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
  });
}

/** What the peer writes right after trigger `i`: 20 recognisable bytes. */
const handoffPayload = (i: number): Buffer => Buffer.from(`handoff ${String(i).padStart(3, '0')} over rdma`);

/** (c) Handoffs to a long-lived worker over RDMA: trigger → the worker's first read, ms. */
async function handoffLatency(count: number, worker: ChildProcess): Promise<{ latencies: number[]; exact: number }> {
  const server = await rdmaServer(() => {});
  const latencies: number[] = [];
  let exact = 0;
  try {
    for (let i = 0; i < count + 2; i++) {
      const accepted = once(server, 'connection') as Promise<[RebindSocket]>;
      const client = await clientTo(server.address()!.port);
      const [socket] = await accepted;
      const payload = handoffPayload(i);
      const report = nextMessage<FirstRead>(worker, 'first-read');
      const start = now();
      const committed = handoff(socket, worker).catch(() => {}); // the trigger; the worker's read is the proof
      client.write(payload);
      const [read] = await Promise.all([report, committed]);
      client.destroy();
      if (i < 2) continue; // warm-up
      latencies.push(read.at - start);
      if (Buffer.from(read.data, 'base64').equals(payload)) exact++;
    }
  } finally {
    server.close();
  }
  return { latencies, exact };
}

// ---------------------------------------------------------------------------------------------

const ratio = (ours: number | undefined, theirs: number | undefined): string =>
  ours === undefined || theirs === undefined || !(theirs > 0) ? 'n/a' : `${(ours / theirs).toFixed(2)}×`;
const fixed = (value: number | undefined, digits = 1): string => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));

async function main(): Promise<void> {
  const available = await rdmaAvailable();
  if (!available.ok) {
    console.log(`bench/rdma: skipped — ${available.error.message}`);
    return;
  }
  console.log(`bench/rdma on ${available.devices.join(', ')} at ${ADDR} (${MB} MiB streams, ${PINGS} pings, ${HANDOFFS} handoffs, best of ${ROUNDS})`);

  const children = await transpileForChildren();
  try {
    await figures(children);
  } finally {
    await children.remove();
  }
}

async function figures(children: Transpiled): Promise<void> {
  if (ONLY.has('a')) await streamFigures(children);
  if (ONLY.has('b')) await latencyFigures(children);
  if (ONLY.has('c')) await handoffFigures(children);
}

/** (a) Stream throughput: ours beside rstream and ib_send_bw. */
async function streamFigures(children: Transpiled): Promise<void> {
  const total = MB * 1024 * 1024;
  const ours: number[] = [];
  for (let r = 0; r < ROUNDS; r++) ours.push(await streamOnce(children, total));
  const count = Math.max(16, Math.round(total / CHUNK / 2)); // each rstream iteration streams `count` transfers each way
  const rs: number[] = [];
  for (let r = 0; r < ROUNDS && PROFILE === undefined; r++) {
    const result = await rstream(CHUNK, count, 1);
    if (result !== undefined) rs.push(result.gbps * 125); // Gb/s → MB/s
  }
  const bw = PROFILE === undefined ? await ibSendBw(CHUNK, 500) : undefined;
  const bestOurs = Math.max(...ours);
  const bestRs = rs.length > 0 ? Math.max(...rs) : undefined;
  const target = bestRs === undefined ? 'n/a' : bestOurs >= 0.8 * bestRs ? 'met' : 'NOT met';
  console.log('(a) stream throughput, 64 KiB writes (MB/s, best round)');
  console.log(`  rebind socket over rdma  ${fixed(bestOurs)}   (rounds ${ours.map((v) => fixed(v)).join(', ')})`);
  console.log(`  rstream -S 65536         ${fixed(bestRs)}   (rounds ${rs.map((v) => fixed(v)).join(', ')})`);
  console.log(`  ib_send_bw -s 65536      ${fixed(bw)}`);
  console.log(`  ratio: ${ratio(bestOurs, bestRs)} rstream (target ≥ 0.8×: ${target}), ${ratio(bestOurs, bw)} ib_send_bw`);
}

/** (b) Small-message latency: ours beside rstream and ib_send_lat. */
async function latencyFigures(children: Transpiled): Promise<void> {
  const ourLat = await pingPong(children, PINGS);
  const rsLat = (await rstream(64, 1, PINGS))?.usPerXfer;
  const ibLat = await ibSendLat(Math.max(1000, PINGS));
  console.log('(b) 64 B latency (µs per one-way transfer)');
  console.log(`  rebind socket over rdma  ${fixed(ourLat)}`);
  console.log(`  rstream -S 64            ${fixed(rsLat)}`);
  console.log(`  ib_send_lat -s 64        ${fixed(ibLat, 2)}`);
  console.log(`  ratio: ${ratio(ourLat, rsLat)} rstream, ${ratio(ourLat, ibLat)} ib_send_lat (lower is better)`);
}

/** (c) Handoff latency over RDMA to a long-lived worker. */
async function handoffFigures(children: Transpiled): Promise<void> {
  const worker = forkProcess(children.fixture('rebind-worker'), [String(handoffPayload(0).length)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await nextMessage(worker, 'ready');
    const { latencies, exact } = await handoffLatency(HANDOFFS, worker);
    console.log('(c) handoff latency over rdma: handoff(socket, worker) → the worker’s first read (ms)');
    console.log(`  median ${fixed(quantile(latencies, 0.5))}, p90 ${fixed(quantile(latencies, 0.9))}, min ${fixed(Math.min(...latencies))} over ${latencies.length} handoffs; ${exact}/${latencies.length} byte-exact`);
  } finally {
    worker.kill();
  }
}

await main();
// The RDMA stack's reactor may still hold the loop; with --cpu-prof the profile is written at exit.
process.exit(0);
