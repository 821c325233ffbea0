/**
 * Smoke test of bench/handoff.bench.ts: each measurement runs once at a tiny size (one handoff of
 * each kind, 1 MB of bulk, one fork of each kind). It checks that the bytes arrive exact and that
 * every figure is a finite number — never a timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../reference/index.js';
import { bulk, measureFork, measureHandoffLatency, measureOrder, median, quantile } from '../../bench/handoff.bench.js';
import { transpileForChildren, type Transpiled } from '../../bench/transpile.js';

let children: Transpiled;

beforeAll(async () => {
  children = await transpileForChildren();
}, 60_000);

afterAll(async () => {
  await Runtime.current().shutdown();
  await children?.remove();
});

describe('bench/handoff.bench.ts at tiny sizes', () => {
  it('(a) one rebind handoff and one native handle passing deliver the peer\'s bytes exactly', async () => {
    const result = await measureHandoffLatency(children, { handoffs: 1, warmup: 0, bytes: 64 });
    expect(result.ours).toHaveLength(1);
    expect(result.native).toHaveLength(1);
    for (const sample of [...result.ours, ...result.native]) {
      expect(sample.exact).toBe(true);
      expect(Number.isFinite(sample.latency)).toBe(true);
    }
  }, 30_000);

  it('(b) a traced handoff in each order yields finite stall and round-trip counts', async () => {
    for (const fast of [false, true]) {
      const { samples, stalls } = await measureOrder(children, { handoffs: 1, warmup: 0, fast });
      expect(samples[0]?.exact).toBe(true);
      expect(stalls).toHaveLength(1);
      const stall = stalls[0]!;
      for (const value of [stall.stall, stall.roundTrips, stall.stallRoundTrips, stall.wireMessages]) expect(Number.isFinite(value)).toBe(true);
      expect(stall.wireMessages).toBeGreaterThan(0);
    }
  }, 30_000);

  it('(c) 1 MB through a raw socket and through a RebindSocket arrives byte for byte', async () => {
    for (const kind of ['raw', 'rebind'] as const) {
      const result = await bulk(kind, { total: 1024 * 1024, verify: true });
      expect(result.exact).toBe(true);
      expect(Number.isFinite(result.rate)).toBe(true);
      expect(Number.isFinite(result.cpuPerGB)).toBe(true);
    }
  }, 30_000);

  it('(d) one fork of each kind gets ready; the rebind child holds its connections', async () => {
    const result = await measureFork(children, { forks: 1, connections: 2, warmup: 0 });
    expect(result.inheritedOk).toBe(true);
    for (const value of [...result.plain, ...result.ours]) expect(Number.isFinite(value)).toBe(true);
  }, 30_000);

  it('statistics: nearest-rank quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
