/**
 * Throughput of DATA frames over the TCP transport (spec §11.1) beside a raw `net.Socket`, in the
 * same process on 127.0.0.1, with the same chunk size and the same backpressure (wait for 'drain').
 * Prints MB/s of each and the ratio transport/raw (the goal is ≥ 0.9), and the CPU time (user +
 * system) each spent per GB, which is steadier than MB/s on a busy machine.
 *
 * Run (Node cannot run TypeScript by itself; rolldown comes with vitest):
 *
 *   npx rolldown bench/transport.bench.ts -p node -f esm -o /tmp/transport.bench.mjs && node /tmp/transport.bench.mjs [MB] [chunkKiB] [rounds]
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tcpTransport, type FrameConnection } from '../reference/transport/index.js';

const MB = Number(process.argv[2] ?? 512);
const CHUNK = Number(process.argv[3] ?? 256) * 1024;
const ROUNDS = Number(process.argv[4] ?? 5);
const TOTAL = MB * 1024 * 1024;
const payload = new Uint8Array(CHUNK).map((_, i) => (i * 31) & 0xff);

/** Throughput (bytes/s) and CPU seconds per GB of one run. */
interface Result {
  rate: number;
  cpuPerGB: number;
}

function result(start: bigint, cpu: NodeJS.CpuUsage): Result {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: TOTAL / seconds, cpuPerGB: (used.user + used.system) / 1e6 / (TOTAL / 1e9) };
}

/** TOTAL bytes of application data through a raw socket. */
async function raw(): Promise<Result> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= TOTAL) done();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => client.once('connect', resolve));
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    if (!client.write(payload)) await new Promise((resolve) => client.once('drain', resolve));
  }
  await finished;
  const measured = result(start, cpu);
  client.destroy();
  server.close();
  return measured;
}

/** TOTAL bytes of DATA payload through the TCP transport. */
async function transport(sliceData: boolean): Promise<Result> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let serverSide: FrameConnection | undefined;
  const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (connection) => {
    serverSide = connection;
    connection.on('frame', (message) => {
      if (message.type !== 'DATA') throw new Error(`unexpected ${message.type}`);
      received += message.data.length;
      if (received >= TOTAL) done();
    });
  }, { sliceData });
  const client = await tcpTransport.connect(listener.address);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let offset = 0n;
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    const ok = client.sendData(offset, payload);
    offset += BigInt(CHUNK);
    if (!ok) await new Promise((resolve) => client.once('drain', () => resolve(undefined)));
  }
  await finished;
  const measured = result(start, cpu);
  client.destroy();
  serverSide?.destroy();
  await listener.close();
  return measured;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const runs: Record<'raw' | 'frames' | 'slices', Result[]> = { raw: [], frames: [], slices: [] };
await raw(); // warm-up
await transport(false);
await transport(true);
for (let round = 0; round < ROUNDS; round++) {
  runs.raw.push(await raw());
  runs.frames.push(await transport(false));
  runs.slices.push(await transport(true));
}
const rate = (k: keyof typeof runs): number => median(runs[k].map((r) => r.rate));
const cpu = (k: keyof typeof runs): number => median(runs[k].map((r) => r.cpuPerGB));
const line = (label: string, k: keyof typeof runs): string =>
  `${label.padEnd(30)} ${(rate(k) / 1e6).toFixed(0).padStart(6)} MB/s  ratio ${(rate(k) / rate('raw')).toFixed(3)}   ` +
  `CPU ${cpu(k).toFixed(3)} s/GB  ratio ${(cpu('raw') / cpu(k)).toFixed(3)}`;
console.log(`${MB} MB per run, ${CHUNK / 1024} KiB writes, ${ROUNDS} rounds interleaved (medians); ratios: higher is better`);
console.log(line('raw net.Socket', 'raw'));
console.log(line('TCP transport, whole frames', 'frames'));
console.log(line('TCP transport, sliceData', 'slices'));
