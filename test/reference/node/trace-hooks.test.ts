/**
 * Trace hooks (spec §13.1): every trace the reference implementation emits, merged across its real
 * processes, is accepted by the ordering grammar and the semantic checks (§7.4, §13.2), and every
 * event validates against the trace-event schema. Hooks are off by default.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkTraceText,
  connect,
  createServer,
  describeSchemaErrors,
  fork,
  mergeProcesses,
  parseTraceOrThrow,
  readTraceDirectory,
  setTraceDirectory,
  setTraceHook,
  validateWith,
  type HostTraceEvent,
  type RebindServer,
  type RebindSocket,
} from '../../../reference/index.js';
import { tracing } from '../../../reference/node/trace.js';

const SUCCESSOR = 'test/reference/node/trace-fixtures/successor.ts';
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listening(server: RebindServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address()!.port)));
}

/** Traces into a fresh directory for this process and every child it forks (REBIND_TRACE_DIR). */
function traceDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebind-trace-'));
  process.env.REBIND_TRACE_DIR = dir;
  setTraceDirectory(dir);
  cleanups.push(() => {
    delete process.env.REBIND_TRACE_DIR;
    setTraceDirectory(undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * One handoff across real processes: this process is the origin and the peer, the successor is a
 * forked child. Returns what the peer received.
 */
async function handoff(options: { mode: 'read' | 'write' | 'wait'; fast: boolean }): Promise<string> {
  let origin: RebindSocket | undefined;
  const accepted = new Promise<RebindSocket>((resolve) => {
    const server = createServer({ fast: options.fast }, (socket) => resolve(socket));
    cleanups.push(() => new Promise((r) => server.close(() => r(undefined))));
    void listening(server).then((port) => {
      const client = connect({ port, host: '127.0.0.1', fast: options.fast });
      peer = client;
    });
  });
  let peer: RebindSocket | undefined;
  origin = await accepted;
  const client = peer!;
  let received = '';
  client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const ended = new Promise<void>((resolve, reject) => {
    client.on('end', () => resolve());
    client.on('error', reject);
  });
  client.write('hello ');
  await new Promise<void>((resolve) => origin!.once('data', () => resolve()));
  origin.pause();
  const child = await fork(SUCCESSOR, [options.mode], { connections: [origin] });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  if (options.mode === 'wait') origin.destroy(); // T1
  client.write('during the handoff ');
  await new Promise((r) => setTimeout(r, 400));
  client.write('after');
  client.end();
  await ended;
  await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  origin = undefined;
  return received;
}

function checkDirectory(dir: string): string[] {
  const traces = readTraceDirectory(dir);
  expect(traces.size).toBeGreaterThan(0);
  const texts: string[] = [];
  for (const [cid, text] of traces) {
    expect(cid).toMatch(/^[0-9a-f]{32}$/);
    const diagnostics = checkTraceText(text);
    expect(diagnostics.map((d) => `${d.code}: ${d.message} (line ${d.line})`), text).toEqual([]);
    for (const event of parseTraceOrThrow(text)) {
      expect(describeSchemaErrors(validateWith('urn:rebind:schema:trace-event', event).errors)).toEqual([]);
    }
    texts.push(text);
  }
  return texts;
}

describe('trace hooks across real processes (§13.1)', () => {
  it('are off by default', () => {
    expect(process.env.REBIND_TRACE_DIR).toBeUndefined();
    expect(tracing()).toBe(false);
  });

  for (const [mode, trigger, fast] of [
    ['wait', 'T1', true],
    ['wait', 'T1', false],
    ['read', 'T3', true],
    ['write', 'T4', false],
  ] as const) {
    it(`a ${trigger} handoff in the ${fast ? 'fast' : 'Fig. 9'} order: the merged trace is accepted and the bytes are exact`, async () => {
      const dir = traceDirectory();
      const received = await handoff({ mode, fast });
      const expected = mode === 'write' ? 'successor here\nDURING THE HANDOFF AFTER' : 'DURING THE HANDOFF AFTER';
      // The origin never echoes; the successor upper-cases what reaches it after the handoff (the
      // copy of "hello " was read by the origin's application before the fork, so it is not re-sent).
      expect(received.replace(/\s+/g, ' ').trim()).toBe(expected.replace(/\s+/g, ' ').trim());
      const [text] = checkDirectory(dir);
      expect(text).toContain(fast ? 'SUSPEND fast=true' : 'SUSPEND fast=false');
      expect(text).toContain(' fork S');
      if (trigger === 'T1') expect(text).toMatch(/^@[0-9.]+ O close$/m);
      else expect(text).toMatch(new RegExp(`^@[0-9.]+ S[0-9]+ trigger ${trigger}$`, 'm'));
      expect(readdirSync(dir).length).toBe(2); // one file per process for this connection
    });
  }

  it('a hook sees each event of this process as it happens, in canonical notation', async () => {
    const seen: HostTraceEvent[] = [];
    setTraceHook((e) => seen.push(e));
    cleanups.push(() => setTraceHook(undefined));
    const server = createServer((socket) => socket.pipe(socket));
    cleanups.push(() => new Promise((r) => server.close(() => r(undefined))));
    const port = await listening(server);
    const client = connect(port, '127.0.0.1');
    const echoed = await new Promise<string>((resolve) => {
      client.on('data', (chunk: Buffer) => resolve(chunk.toString()));
      client.write('ping');
    });
    client.destroy();
    expect(echoed).toBe('ping');
    const names = seen.map((e) => `${e.actor} ${e.kind} ${e.name}`);
    expect(names).toContain('P send HELLO');
    expect(names).toContain('O receive HELLO');
    expect(names).toContain('P action send');
    expect(names).toContain('O action recv');
    for (const e of seen) expect(e.text.startsWith(`@${e.time}`)).toBe(true);
  });
});

describe('mergeProcesses', () => {
  it('puts a receive after its send even when the receiver\'s clock runs behind', () => {
    const origin = ['@10 O ~> P SUSPEND fast=false hid=1', '@12 O <~ P SUSPENDED'];
    const peer = ['@9.5 P <~ O SUSPEND', '@9.6 P ~> O SUSPENDED hid=1 sendEnd=0 recvOffset=0'];
    expect(mergeProcesses([origin, peer])).toEqual([origin[0], peer[0], peer[1], origin[1]]);
  });

  it('takes no line of a forked child before its parent\'s fork line, which the origin writes late (the CI flake of JOIN before fork)', () => {
    // The origin writes `fork` (stamped with the fork's time) only when the child's JOIN names the
    // child, after events of its own that are later than the child's first line.
    const origin = ['@10 O <~ P DATA offset=0 data=0x41', '@20 O <~ P DATA offset=1 data=0x42', '@5 O fork S1', '@21 O <~ S1 JOIN pid=7 addr="tcp://x"'];
    const peer = ['@9 P ~> O DATA offset=0 data=0x41', '@19 P ~> O DATA offset=1 data=0x42'];
    const child = ['@15 S1 ~> O JOIN pid=7 addr="tcp://x"'];
    const merged = mergeProcesses([origin, peer, child]);
    expect(merged.indexOf(child[0]!)).toBeGreaterThan(merged.indexOf(origin[2]!));
    expect(merged.indexOf(child[0]!)).toBeLessThan(merged.indexOf(origin[3]!));
  });

  it('keeps each process\'s own order and falls back to time for a receive with no send', () => {
    expect(mergeProcesses([['@5 O <~ P DATA', '@1 O close'], ['@3 P send len=1 data=0x41']])).toEqual(['@3 P send len=1 data=0x41', '@5 O <~ P DATA', '@1 O close']);
  });
});
