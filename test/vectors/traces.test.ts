/**
 * The trace vectors as files (spec §13.3): unique ids, complete metadata, canonical formatting.
 * Whether the checker agrees with them is test/conformance/check.test.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFrontMatter, parseVectorFile, vectorFileName, type TraceVectorMeta } from '../../conformance/vector-file.js';
import { isErrorName } from '../../reference/errors.js';

const DIR = 'vectors/traces';
/** Every file under vectors/traces, recorded/ included (paths relative to it); folders left out. */
const names = readdirSync(DIR, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => relative(DIR, join(entry.parentPath, entry.name)))
  .sort();
const files = names.filter((n) => n.endsWith('.trace')).map((name) => {
  const text = readFileSync(join(DIR, name), 'utf8');
  return { name, text, ...parseVectorFile(text, name) };
});
const metas = files.map((f) => f.meta).filter((m): m is TraceVectorMeta => m !== undefined);

/** The vectors the issue asks for, by id. */
const REQUIRED_IDS = [
  'trace.fig9.stop-and-wait',
  'trace.fast.fast-order',
  'trace.trigger.t1-origin-close',
  'trace.trigger.t2-origin-exit',
  'trace.trigger.t3-successor-recv',
  'trace.trigger.t4-successor-send',
  'trace.copy.unread-window',
  'trace.lazy.fork-no-trigger',
  'trace.lazy.second-trigger',
  'trace.reject.rebind-before-suspended',
  'trace.reject.two-rebound',
  'trace.reject.wrong-token-attached',
  'trace.reject.peer-data-after-suspended',
];

describe('vectors/traces', () => {
  it('holds only .trace files', () => {
    expect(names.filter((n) => !n.endsWith('.trace'))).toEqual([]);
  });

  it('every file has valid, complete metadata', () => {
    expect(files.flatMap((f) => f.diagnostics.map((d) => `${f.name}:${d.line}:${d.column} ${d.message}`))).toEqual([]);
    expect(metas).toHaveLength(files.length);
  });

  it('ids are unique, start with "trace." and name the file', () => {
    const ids = metas.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of files) {
      expect(f.meta?.id, f.name).toMatch(/^trace\./);
      expect(vectorFileName(f.meta!.id), f.meta!.id).toBe(f.name.split(/[\\/]/).at(-1));
    }
  });

  it('has every vector the issue requires', () => {
    expect(REQUIRED_IDS.filter((id) => !metas.some((m) => m.id === id))).toEqual([]);
  });

  it('must-reject vectors name an error of §12, the section violated, and the line', () => {
    for (const m of metas.filter((m) => m.result === 'invalid')) {
      expect(isErrorName(m.error ?? ''), m.id).toBe(true);
      expect(m.violates, m.id).toMatch(/^\d+\.\d+$/);
      expect(m.line, m.id).toBeTypeOf('number');
      expect(m.sections, m.id).toContain(m.violates);
    }
  });

  describe.each(files.map((f) => [f.name, f] as const))('%s is canonical', (_name, f) => {
    it('front matter keys in the fixed order, one `#! key: value` each', () => {
      expect(f.text.slice(0, formatFrontMatter(f.meta!).length)).toBe(formatFrontMatter(f.meta!));
    });

    it('no trailing blanks, no tabs, LF line ends, one final newline', () => {
      const lines = f.text.split('\n');
      expect(lines.map((l, i) => (/[ \t]$/.test(l) ? i + 1 : 0)).filter(Boolean)).toEqual([]);
      expect(f.text).not.toMatch(/[\t\r]/);
      expect(f.text.endsWith('\n')).toBe(true);
      expect(f.text.endsWith('\n\n')).toBe(false);
    });
  });
});

describe('the Fig. 9 vector', () => {
  const fig9 = files.find((f) => f.meta?.id === 'trace.fig9.stop-and-wait')!;

  it('shows the steps of Fig. 9 in the patent\'s order: a A B b X C c d D Y E e f F G g h H', () => {
    const steps = fig9.text.split('\n').flatMap((line) => {
      const step = /^@\S+\s.*#\s*([a-hA-HXY])(?::|$)/.exec(line)?.[1];
      return step === undefined ? [] : [step];
    });
    const firsts = steps.filter((s, i) => steps.indexOf(s) === i);
    expect(firsts.join(' ')).toBe('a A B b X C c d D Y E e f F G g h H');
  });

  it('ends with REBOUND, COMMIT and the origin rebound', () => {
    const events = fig9.text.trimEnd().split('\n').slice(-3).map((l) => l.replace(/\s+#.*$/, ''));
    expect(events).toEqual([
      '@16 O <~ P REBOUND',
      '@16 O -> S COMMIT cid=0x5f3a9c2e7b1d4068a2c4e6f8091b3d5f hid=1',
      '@16 O rebound',
    ]);
  });
});
