/**
 * The kit's fault cases (conformance/cases/faults.ts) and its raw peer (conformance/wire-peer.ts):
 * the raw peer against a scripted TCP server that misbehaves on purpose — each misbehaviour fails
 * with the section it breaks, and its trace lines are the notation of §13.1 — then every fault case
 * against the reference through its adapter (§15.1), which must pass them all.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FAULTS_CASES } from '../../conformance/cases/faults.js';
import { CaseFailure, runKit } from '../../conformance/run.js';
import { rawFrame, WirePeer } from '../../conformance/wire-peer.js';
import type { HostTraceEvent } from '../../reference/node/index.js';
import { parseTrace } from '../../reference/trace/parse.js';
import { encodeFrame, type Message } from '../../reference/wire/index.js';

const SPEC = readFileSync('spec/rebind.md', 'utf8');
const CID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

const servers: Server[] = [];
const peers: WirePeer[] = [];
afterEach(() => {
  for (const p of peers.splice(0)) p.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A TCP server that answers the raw peer with `script` (it sends the acceptor's HELLO first). */
async function scripted(script: (socket: Socket, frame: (m: Message) => void) => void): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    const frame = (m: Message): void => void socket.write(encodeFrame(m));
    frame({ type: 'HELLO', fast: false, acceptor: true, cid: CID, maxPayload: 1_048_576, credits: 0 });
    script(socket, frame);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `tcp://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function connect(addr: string, trace?: HostTraceEvent[]): Promise<WirePeer> {
  const peer = await WirePeer.connect(addr, { timeoutMs: 3000, ...(trace !== undefined ? { trace } : {}) });
  peers.push(peer);
  return peer;
}

/** The rejection of `promise`, which must be a CaseFailure. */
async function failure(promise: Promise<unknown>): Promise<CaseFailure> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CaseFailure);
  return error as CaseFailure;
}

describe('the raw peer (wire-peer)', () => {
  it('exchanges HELLOs as the connector, learns the cid, and reads DATA by offset', async () => {
    const addr = await scripted((_socket, frame) => {
      frame({ type: 'DATA', offset: 0n, data: Buffer.from('hello ') });
      frame({ type: 'SUSPEND', fast: false, hid: 1 });
      frame({ type: 'DATA', offset: 6n, data: Buffer.from('world') });
    });
    const trace: HostTraceEvent[] = [];
    const peer = await connect(addr, trace);
    expect(peer.cidHex).toBe(Buffer.from(CID).toString('hex'));
    expect((await peer.expect('SUSPEND', '6.2')).hid).toBe(1); // control frames in order; DATA aside
    expect((await peer.readData(11, '6.4')).toString()).toBe('hello world');
    peer.sendData(Buffer.from('abc'));
    peer.send({ type: 'SUSPENDED', hid: 1, sendEnd: peer.sendOffset, recvOffset: peer.recvOffset });
    expect(peer.sendOffset).toBe(3n);
    // Its trace lines are events of §13.1, with the cid the HELLO fixed.
    const { events, diagnostics } = parseTrace(trace.map((e) => `${e.text}\n`).join(''));
    expect(diagnostics).toEqual([]);
    expect(events.map((e) => `${e.actor} ${e.kind} ${e.name}`)).toEqual([
      'P action connect', 'P send HELLO', 'P receive HELLO', 'P receive DATA', 'P receive SUSPEND', 'P receive DATA',
      'P action recv', 'P action send', 'P send DATA', 'P send SUSPENDED',
    ]);
    expect(new Set(trace.slice(2).map((e) => e.cid))).toEqual(new Set([Buffer.from(CID).toString('hex')]));
  });

  it('another frame than the one expected fails naming the section; so does silence, with a timeout', async () => {
    const addr = await scripted((_socket, frame) => frame({ type: 'REBIND', hid: 1, sendEnd: 0n, token: new Uint8Array(16), addr: 'tcp://127.0.0.1:9' }));
    const peer = await connect(addr);
    const wrong = await failure(peer.expect('SUSPEND', '6.2'));
    expect(wrong.section).toBe('6.2');
    expect(wrong.message).toMatch(/^expected SUSPEND from O, got REBIND hid=1/);
    const silent = await failure(peer.next('9.1', { timeoutMs: 200, waitingFor: 'ABORT' }));
    expect(silent.message).toBe('no ABORT from O within 200 ms');
    expect(silent.section).toBe('9.1');
  });

  it('bytes from the other end that are no frame fail with §3.4; a gap in DATA offsets with §6.4', async () => {
    const garbage = await connect(await scripted((socket) => socket.write(rawFrame({ type: 0x0e }))));
    expect((await failure(garbage.next('7.5'))).section).toBe('3.4');
    const gap = await connect(await scripted((_socket, frame) => frame({ type: 'DATA', offset: 5n, data: Buffer.from('x') })));
    const error = await failure(gap.readData(1, '6.5'));
    expect(error.section).toBe('6.4');
    expect(error.message).toMatch(/DATA offset=5, expected 0/);
  });

  it('sends raw bytes as they are (a comment in its trace), half-closes, and sees the other end close', async () => {
    let got = Buffer.alloc(0);
    const addr = await scripted((socket) => {
      socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      socket.on('end', () => socket.end());
    });
    const trace: HostTraceEvent[] = [];
    const peer = await connect(addr, trace);
    peer.sendRaw(Uint8Array.from([1, 2, 3]), 'three bytes');
    peer.endWrites();
    expect(await peer.untilClosed('9.7')).toEqual([]);
    expect(got.subarray(-3)).toEqual(Buffer.from([1, 2, 3])); // after its 32-byte HELLO
    expect(got.length).toBe(32 + 3);
    expect(trace.filter((e) => e.text.startsWith('#')).map((e) => e.text)).toEqual([expect.stringMatching(/^# @[0-9.]+ P sent O 3 raw bytes 0x010203: three bytes$/), expect.stringMatching(/half-closes/)]);
    expect(parseTrace(trace.map((e) => `${e.text}\n`).join('')).diagnostics).toEqual([]);
  });
});

describe('the fault cases', () => {
  it('have kit.fault ids, a level, and cite sections the spec has', () => {
    expect(FAULTS_CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(FAULTS_CASES.map((c) => c.id)).size).toBe(FAULTS_CASES.length);
    for (const c of FAULTS_CASES) {
      expect(c.id).toMatch(/^kit\.fault\.[a-z0-9-]+(\.[a-z0-9-]+)*$/);
      expect(['MUST', 'SHOULD']).toContain(c.level);
      for (const section of c.sections) expect(SPEC, `${c.id} cites §${section}`).toContain(`<a id="s${section}"></a>`);
    }
  });

  it('the reference passes every one of them through its adapter', async () => {
    const results = await runKit({ impl: 'reference', cases: FAULTS_CASES });
    expect(results.filter((r) => r.verdict !== 'pass').map((r) => `${r.id}: ${r.verdict} ${r.message ?? ''}`)).toEqual([]);
    // Each case keeps its artefact: the raw peer's lines and the implementation's, merged (§15.1).
    for (const r of results) expect(r.trace.some((l) => / P ~> O HELLO /.test(l)), r.id).toBe(r.id !== 'kit.fault.unexpected.first-frame');
    const window = results.find((r) => r.id === 'kit.fault.window-b-d')!.trace;
    for (const line of [/ O ~> P SUSPEND /, / P ~> O SUSPENDED /, / O ~> S\d+ COPY /, / P ~> S\d+ ATTACH /, / S\d+ ~> P ATTACHED /, / O ~> S\d+ COMMIT /]) {
      expect(window.some((l) => line.test(l)), String(line)).toBe(true);
    }
  }, 240_000);
});
