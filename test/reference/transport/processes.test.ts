/**
 * The transport bindings across real processes (spec §9.3, §9.4, §11.1, §11.3): a child is forked
 * from fixtures/child.mjs (which runs the built library in dist/) and killed with SIGKILL; the
 * survivor must see 'close', never hang.
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectLocal, listenLocal, parseAddress, tcpTransport, type FrameConnection, type LocalChannel } from '../../../reference/transport/index.js';
import type { JoinMessage } from '../../../reference/wire/index.js';
import { asJson, closeOf, deadline, nextFrames } from './helpers.js';

const FIXTURE = 'test/reference/transport/fixtures/child.mjs';
const BUILT = 'dist/reference/transport/index.js';

function newestSource(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && /\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

beforeAll(() => {
  // Build dist when it is absent or older than the sources (as test/conformance/cli.test.ts does).
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= newestSource(['reference', 'spec/tables'])) return;
  execFileSync(process.execPath, ['scripts/build-grammars.mjs'], { stdio: 'pipe' });
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
}, 120_000);

const children: ChildProcess[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Forks the fixture; `next(pred)` resolves with the first IPC message matching `pred`. */
function child(...args: string[]): { process: ChildProcess; next: <T>(pred: (m: Record<string, unknown>) => boolean) => Promise<T>; exited: Promise<unknown> } {
  const proc = fork(FIXTURE, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(proc);
  const messages: Record<string, unknown>[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: unknown) => void }[] = [];
  proc.on('message', (m) => {
    const message = m as Record<string, unknown>;
    messages.push(message);
    for (const w of waiters.splice(0)) {
      if (w.pred(message)) w.resolve(message);
      else waiters.push(w);
    }
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const next = <T>(pred: (m: Record<string, unknown>) => boolean): Promise<T> => {
    const seen = messages.find(pred);
    if (seen) return Promise.resolve(seen as T);
    return deadline(new Promise<T>((resolve) => waiters.push({ pred, resolve: resolve as (m: unknown) => void })), 10_000, `child ${args[0]} message`);
  };
  return { process: proc, next, exited };
}

describe('across processes', () => {
  it('dist is built', () => {
    expect(existsSync(BUILT)).toBe(true);
  });

  it('TCP: frames from another process arrive; its SIGKILL at a frame boundary is a clean close', async () => {
    let accepted!: (c: FrameConnection) => void;
    const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
    const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (c) => accepted(c));
    cleanups.push(() => listener.close());
    const peer = child('tcp-peer', listener.address);
    const server = await deadline(serverSide, 10_000, 'accept');
    const hello = await nextFrames(server, 1, 10_000);
    expect(asJson(hello)).toEqual(asJson([{ type: 'HELLO', fast: false, acceptor: false, cid: new Uint8Array(16), maxPayload: 1048576, credits: 0 }]));
    const closed = closeOf(server, 10_000);
    peer.process.kill('SIGKILL');
    expect(await closed).toBeUndefined();
  });

  it('TCP: the other side dies mid-frame (SIGKILL) → close with FRAME_TRUNCATED or TRANSPORT_FAILED, no hang', async () => {
    let accepted!: (c: FrameConnection) => void;
    const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
    const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (c) => accepted(c));
    cleanups.push(() => listener.close());
    const partial = child('tcp-partial', String(parseAddress(listener.address).port));
    const server = await deadline(serverSide, 10_000, 'accept');
    const frames: unknown[] = [];
    server.on('frame', (m) => frames.push(m));
    await partial.next((m) => m.sent === true);
    const closed = closeOf(server, 10_000);
    partial.process.kill('SIGKILL');
    const error = await closed;
    expect(['ERR_FRAME_TRUNCATED', 'ERR_TRANSPORT_FAILED']).toContain(error?.code);
    expect(frames).toEqual([]);
  });

  it('L: a successor process joins; killing it gives the origin a close (§9.4 lost L)', async () => {
    let onJoined!: (v: { channel: LocalChannel; join: JoinMessage }) => void;
    const joined = new Promise<{ channel: LocalChannel; join: JoinMessage }>((resolve) => (onJoined = resolve));
    const listener = await listenLocal((channel, join) => onJoined({ channel, join }));
    cleanups.push(() => listener.close());
    const successor = child('successor', listener.path);
    const { channel, join } = await deadline(joined, 10_000, 'JOIN');
    expect(join.pid).toBe(successor.process.pid);
    expect(join.addr).toBe('tcp://127.0.0.1:9');
    // Both directions work across the processes.
    channel.send({ type: 'COMMIT', cid: new Uint8Array(16).fill(1), hid: 1 });
    await successor.next((m) => m.frame === 'COMMIT');
    const closed = closeOf(channel, 10_000);
    successor.process.kill('SIGKILL');
    expect(await closed).toBeUndefined();
    await listener.close();
    expect(existsSync(listener.path)).toBe(false);
  });

  it('L: killing the origin process gives the successor a close (§9.3 lost L)', async () => {
    const origin = child('origin');
    const { path } = await origin.next<{ path: string }>((m) => typeof m.path === 'string');
    cleanups.push(() => rmSync(dirname(path), { recursive: true, force: true })); // a killed origin cannot remove it
    const successor = await connectLocal(path, { pid: process.pid, addr: 'tcp://127.0.0.1:9' });
    cleanups.push(() => successor.destroy());
    const commit = nextFrames(successor, 1, 10_000);
    await origin.next((m) => m.joined === process.pid);
    expect((await commit)[0]?.type).toBe('COMMIT'); // the origin's first frame after our JOIN
    successor.send({ type: 'RELEASE', cid: new Uint8Array(16).fill(7) });
    await origin.next((m) => m.frame === 'RELEASE');
    const closed = closeOf(successor, 10_000);
    origin.process.kill('SIGKILL');
    expect(await closed).toBeUndefined();
  });

  it('L: the successor process sees the origin end L (its close event reports it)', async () => {
    let onJoined!: (c: LocalChannel) => void;
    const joined = new Promise<LocalChannel>((resolve) => (onJoined = resolve));
    const listener = await listenLocal((channel) => onJoined(channel));
    cleanups.push(() => listener.close());
    const successor = child('successor', listener.path);
    const channel = await deadline(joined, 10_000, 'JOIN');
    await channel.end();
    expect(await successor.next((m) => 'closed' in m)).toEqual({ closed: null });
  });
});
