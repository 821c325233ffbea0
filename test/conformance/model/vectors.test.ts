import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { check, type CheckResult, type Graph } from '../../../conformance/model/checker.js';
import { DEFAULT_OPTIONS } from '../../../conformance/model/model.js';
import { MAX_VECTORS, modelVectors, type ModelVector } from '../../../conformance/model/vectors.js';
import { parseVectorFile } from '../../../conformance/vector-file.js';
import { checkTraceText } from '../../../reference/trace/check.js';
import { parseTrace } from '../../../reference/trace/parse.js';

// vectors/model is written by `model --failures 0 --emit-vectors vectors/model` (docs/model.md):
// the default bound without kills and cuts.
const DIR = 'vectors/model';
let result: CheckResult & { graph: Graph };
let vectors: ModelVector[];

beforeAll(() => {
  result = check({ ...DEFAULT_OPTIONS, failures: 0 });
  vectors = modelVectors(result);
});

describe('the bound of vectors/model (one byte each way, both orders, T1–T4, timers, stranger, release)', () => {
  it('passes every invariant; every order × trigger has a completed handoff; the figures are stable', () => {
    expect(result.violations).toEqual([]);
    expect(result.findings.filter((f) => f.finding.kind === 'unexpected' || f.finding.kind === 'ambiguous')).toEqual([]);
    expect([result.states, result.transitions, result.finalStates]).toEqual([163746, 485675, 8530]);
    const completed = result.outcomes.filter((o) => o.outcome.kind === 'completed').map((o) => `${o.order} ${o.triggers}`).sort();
    expect(completed).toEqual(['fast both', 'fast origin', 'fast successor', 'fig9 both', 'fig9 origin', 'fig9 successor']);
  });
});

describe('vectors/model', () => {
  it('regenerating gives exactly the committed files (names and contents)', () => {
    expect(vectors.length).toBeGreaterThan(0);
    expect(vectors.length).toBeLessThanOrEqual(MAX_VECTORS);
    const files = readdirSync(DIR).filter((f) => f.endsWith('.trace')).sort();
    expect(vectors.map((v) => v.file).sort()).toEqual(files);
    for (const v of vectors) expect(readFileSync(`${DIR}/${v.file}`, 'utf8'), v.file).toBe(v.text);
  });

  it('each has valid front matter whose id matches its file name', () => {
    for (const v of vectors) {
      const parsed = parseVectorFile(v.text, v.file);
      expect(parsed.diagnostics, v.file).toEqual([]);
      expect(parsed.meta?.id).toBe(v.meta.id);
      expect(parsed.meta?.result).toBe('valid');
    }
  });

  it('each parses (reference/trace/parse.ts) and the trace checker accepts it (reference/trace/check.ts)', () => {
    for (const v of vectors) {
      expect(parseTrace(v.text, { source: v.file }).diagnostics, v.file).toEqual([]);
      expect(checkTraceText(v.text, { source: v.file }), v.file).toEqual([]);
    }
  });

  it('covers both orders, every trigger, completed, resumed and failed ends', () => {
    const names = vectors.map((v) => v.file).join(' ');
    for (const part of ['fig9-t1-completed', 'fig9-t2-completed', 'fig9-t3-completed', 'fig9-t4-completed', 'fast-t1-t3-completed', 'fast-t3-resumed', 'fig9-t1-error']) {
      expect(names).toContain(part);
    }
  });

  it('uses realistic fields: 16-byte tokens and cids in hex, byte offsets, data', () => {
    const text = vectors.map((v) => v.text).join('\n');
    expect(text).toMatch(/ token=0x[0-9a-f]{32} /);
    expect(text).toMatch(/ cid=0x[0-9a-f]{32} /);
    expect(text).toMatch(/ DATA offset=0 data=0x41/);
    expect(text).not.toMatch(/VIOLATION/);
  });
});
