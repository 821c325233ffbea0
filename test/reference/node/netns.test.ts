/**
 * A peer on a second host (spec §11.1: the TCP binding between machines): the peer runs in its own
 * network namespace, reached over a veth pair, and the handoff moves its connection from the origin
 * to a forked successor with megabytes in flight both ways, byte-exact (§6.4, §6.5).
 *
 * Set-up (root only): namespace `rbf<run>`, veth `rbv<run>a` (root namespace, 10.77.N.1/24) and
 * `rbv<run>b` (in the namespace, 10.77.N.2/24), with N and the names unique per run. The origin
 * (fault-fixtures/origin.ts) listens on 10.77.N.1, so the successor's rebind listener does too
 * (§5.1); the peer (fault-fixtures/peer.ts) runs as
 * `ip netns exec NS node --import ./scripts/register-ts.mjs peer.ts`. Where `ip netns` is not
 * permitted the tests are reported as skipped, with the reason in their names, never as passed.
 */
import { execFileSync, fork as forkProcess, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { patternDigest, type ReportLine } from './fault-fixtures/common.js';
import { FIXTURES, formatReport, readReport, sleep } from './fault-fixtures/harness.js';

/** Megabytes both ways: the peer sends TOTAL bytes and gets them back; the handoff starts after HANDOFF_AT. */
const TOTAL = 4 * 1024 * 1024;
const WINDOW = 512 * 1024;
const HANDOFF_AT = 1024 * 1024;
const DEADLINE_MS = 25_000;

const run = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`.slice(-8);
const NS = `rbf${run}`;
const VETH_ROOT = `rbv${run}a`; // at most 15 characters (IFNAMSIZ)
const VETH_NS = `rbv${run}b`;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this machine lets us make a namespace (root, `ip` present, netns permitted), and why not. */
function probeNetns(): { ok: boolean; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  const probe = `rbp${run}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.error !== undefined) return { ok: false, reason: `no ip command (${made.error.message})` };
  if (made.status !== 0) return { ok: false, reason: `ip netns add refused: ${made.stderr.trim()}` };
  spawnSync('ip', ['netns', 'del', probe]);
  return { ok: true, reason: '' };
}

const netns = probeNetns();
const skipReason = netns.ok ? '' : ` — SKIPPED: ip netns not permitted here (${netns.reason})`;

/** A /24 in 10.77.0.0/16 that no interface of this machine uses yet. */
function freeSubnet(): number {
  const used = ip('-4', '-o', 'addr', 'show');
  for (let i = 0; i < 254; i++) {
    const n = ((process.pid + i) % 254) + 1;
    if (!used.includes(`10.77.${n}.`)) return n;
  }
  throw new Error('no free 10.77.N.0/24');
}

let subnet = 0;
let serverAddress = '';
const children: ChildProcess[] = [];
const pids = new Set<number>();
const directories: string[] = [];

function cleanUpNetwork(): void {
  spawnSync('ip', ['netns', 'del', NS]); // removes the namespace's end of the pair, and with it the pair
  spawnSync('ip', ['link', 'del', VETH_ROOT]);
}

describe('a peer on a second host (network namespace over veth, §11.1)', () => {
  beforeAll(() => {
    if (!netns.ok) return;
    subnet = freeSubnet();
    serverAddress = `10.77.${subnet}.1`;
    try {
      ip('netns', 'add', NS);
      ip('link', 'add', VETH_ROOT, 'type', 'veth', 'peer', 'name', VETH_NS);
      ip('link', 'set', VETH_NS, 'netns', NS);
      ip('addr', 'add', `${serverAddress}/24`, 'dev', VETH_ROOT);
      ip('link', 'set', VETH_ROOT, 'up');
      ip('netns', 'exec', NS, 'ip', 'addr', 'add', `10.77.${subnet}.2/24`, 'dev', VETH_NS);
      ip('netns', 'exec', NS, 'ip', 'link', 'set', VETH_NS, 'up');
      ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
    } catch (error) {
      cleanUpNetwork();
      throw error;
    }
  });

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of [...pids]) {
      pids.delete(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  afterAll(() => {
    if (netns.ok) cleanUpNetwork();
    for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
    if (netns.ok) {
      expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(NS);
      expect(spawnSync('ip', ['link', 'show', VETH_ROOT]).status).not.toBe(0);
    }
  });

  for (const order of ['fast', 'fig9'] as const) {
    it.skipIf(!netns.ok)(`${order === 'fast' ? 'fast order (§6.3)' : 'stop-and-wait (§6.2)'}: 4 MiB each way through a T1 handoff, the peer in its own namespace${skipReason}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rebind-netns-'));
      directories.push(dir);
      const file = join(dir, 'report.jsonl');
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        FAULT_REPORT: file,
        FAULT_MODE: 'T1',
        FAULT_FAST: order === 'fast' ? '1' : '0',
        FAULT_HOST: serverAddress,
        FAULT_HANDOFF_AT: String(HANDOFF_AT),
        FAULT_TOTAL: String(TOTAL),
        FAULT_WINDOW: String(WINDOW),
        FAULT_TRACE: '0',
      };
      for (const name of ['FAULT_KILL_O', 'FAULT_KILL_S', 'FAULT_KILL_P', 'FAULT_PORT', 'FAULT_CLOSE_INLINE']) delete env[name];
      const stderr: string[] = [];
      const origin = forkProcess(`${FIXTURES}/origin.ts`, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      origin.stderr?.on('data', (d: Buffer) => stderr.push(`origin: ${d.toString()}`));
      children.push(origin);

      const began = Date.now();
      let lines: ReportLine[] = [];
      let port: number | undefined;
      while (port === undefined && Date.now() - began < DEADLINE_MS) {
        await sleep(20);
        lines = readReport(file);
        port = lines.find((l) => l.role === 'O' && l.ev === 'listening')?.port as number | undefined;
      }
      expect(port, `the origin did not listen on ${serverAddress}\n${stderr.join('')}`).toBeDefined();

      // The peer, on the other host.
      const peer = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', './scripts/register-ts.mjs', `${FIXTURES}/peer.ts`], {
        env: { ...env, FAULT_PORT: String(port) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      peer.stderr?.on('data', (d: Buffer) => stderr.push(`peer: ${d.toString()}`));
      children.push(peer);

      const outcome = (role: string): ReportLine | undefined => lines.find((l) => l.role === role && l.ev === 'outcome');
      while (Date.now() - began < DEADLINE_MS && (outcome('P') === undefined || outcome('S') === undefined || outcome('O') === undefined)) {
        await sleep(50);
        lines = readReport(file);
        for (const l of lines) if (l.role === 'S') pids.add(l.pid);
        const forked = lines.find((l) => l.ev === 'forked')?.successor;
        if (typeof forked === 'number') pids.add(forked);
      }
      const context = `${formatReport(lines, began)}\n${stderr.join('')}`;
      const p = outcome('P');
      const s = outcome('S');
      const o = outcome('O');
      // The connection came from the other namespace.
      expect(lines.find((l) => l.role === 'O' && l.ev === 'accepted')?.remote, context).toBe(`10.77.${subnet}.2`);
      // Every role completed: the origin's handoff committed, the successor owned and echoed to the end, the peer got everything back.
      expect([o?.outcome, s?.outcome, p?.outcome], context).toEqual(['rebound', 'complete', 'complete']);
      expect(s?.remote, context).toBe(`10.77.${subnet}.2`);
      // Byte-exact both ways: the peer's echo is its stream, and the successor read exactly what the origin had not.
      expect([p?.sent, p?.echoed, p?.echoOk], context).toEqual([TOTAL, TOTAL, true]);
      const handoffRead = lines.find((l) => l.role === 'O' && l.ev === 'handoff')?.read as number;
      expect(handoffRead).toBeGreaterThanOrEqual(HANDOFF_AT);
      expect(handoffRead + (s?.read as number), context).toBe(TOTAL);
      expect(s?.sha, context).toBe(patternDigest(handoffRead, TOTAL - handoffRead));
      expect(o?.readOk).toBe(true);
    });
  }
});
