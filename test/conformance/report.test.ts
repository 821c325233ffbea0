/**
 * The kit's reports (spec §15.1, "Reports"): real results of the kit — the reference passing, the
 * lying adapter failing, a case cut short by its timeout — written as JSON (checked against
 * `urn:rebind:schema:kit-report`), JUnit XML (parsed by a small well-formedness checker), TAP 14
 * (checked line by line against its grammar) and HTML; the sequence chart's layout on the
 * Appendix A run of Fig. 9; the abbreviation of DATA payloads; and the artefacts folder.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKit, type CaseResult } from '../../conformance/run.js';
import { KIT_CASES } from '../../conformance/cases/index.js';
import {
  abbreviateLine,
  abbreviateTrace,
  formatReport,
  isReportFormat,
  layoutSequence,
  splitFailure,
  summarizeRun,
  toKitReport,
  writeArtefacts,
  KIT_REPORT_SCHEMA_ID,
  REPORT_FORMATS,
  type RunSummary,
} from '../../conformance/report/index.js';
import { validateWith, describeSchemaErrors } from '../../reference/schemas.js';
import { parseTraceOrThrow } from '../../reference/trace/index.js';

const LIAR = 'test/conformance/fixtures/lying-adapter.mjs';

/** Real results: two reference passes, a timeout cut short, two lies caught; and one of each verdict the kit cannot produce here. */
let results: CaseResult[] = [];
let run: RunSummary;

beforeAll(async () => {
  const pick = (...ids: string[]): typeof KIT_CASES => KIT_CASES.filter((c) => ids.includes(c.id));
  const passed = await runKit({ impl: 'reference', cases: pick('kit.adapter.hello', 'kit.server.t1-fig9') });
  const lied = await runKit({ impl: LIAR, cases: pick('kit.adapter.honest-unsupported', 'kit.server.echo'), timeout: 5 });
  // A real case stopped by the kit's timeout mid-case: a failure whose trace ends where it stopped.
  // The ABORT-timer case cannot finish in 0.6 s (its timers alone take 1.3 s).
  const slow = pick('kit.fault.timeout.abort');
  const cut = await runKit(slow.length > 0 ? { impl: 'reference', cases: slow, timeout: 0.6 } : { impl: 'reference', cases: pick('kit.server.t3-fast'), timeout: 0.2 });
  results = [
    ...passed,
    ...lied,
    ...cut,
    // The kit gives these verdicts when a case cannot run or needs a missing feature (§15.1).
    { id: 'kit.fault.netns-cut', level: 'MUST', sections: ['9.3'], verdict: 'skipped', message: 'needs ip netns (not permitted here)', ms: 0, trace: [] },
    { id: 'kit.client.rdma-echo', level: 'SHOULD', sections: ['10.2'], verdict: 'unsupported', message: 'needs rdma', ms: 3, trace: [] },
  ];
  run = summarizeRun(results, { impl: 'reference & <liar>', started: new Date('2026-05-01T10:00:00Z'), durationMs: 4321, cases: KIT_CASES });
}, 180_000);

describe('the run summary', () => {
  it('counts each verdict and is not ok when a MUST case failed', () => {
    expect(results.slice(0, 2).map((r) => r.verdict)).toEqual(['pass', 'pass']);
    expect(results.slice(2, 5).map((r) => r.verdict)).toEqual(['fail', 'fail', 'fail']);
    expect(run.counts).toEqual({ passed: 2, failed: 3, skipped: 1, unsupported: 1 });
    expect(run.ok).toBe(false);
    expect(run.started).toBe('2026-05-01T10:00:00.000Z');
    expect(run.results[0]!.title).toBe(KIT_CASES.find((c) => c.id === 'kit.adapter.hello')!.title);
    expect(summarizeRun(results.slice(0, 2), { impl: 'reference' }).ok).toBe(true);
    // A SHOULD failure does not make the run fail (§15.1: only MUST).
    expect(summarizeRun([{ ...results[2]!, level: 'SHOULD' }], { impl: 'x' }).ok).toBe(true);
  });

  it('every format has a name and a file extension', () => {
    expect(REPORT_FORMATS).toEqual(['json', 'junit', 'tap', 'html']);
    expect(isReportFormat('tap')).toBe(true);
    expect(isReportFormat('pdf')).toBe(false);
    expect(() => formatReport('pdf' as 'tap', run)).toThrow(/unknown report format/);
  });
});

describe('abbreviating DATA payloads', () => {
  const bytes = Buffer.alloc(262_144, 0xab);
  const line = `@12.5 P ~> O DATA offset=0 data=0x${bytes.toString('hex')}`;

  it('keeps the first 16 bytes, says the length, and the line still reads as the notation (§13.1)', () => {
    const { text, dataBytes } = abbreviateLine(line);
    expect(dataBytes).toBe(262_144);
    expect(text).toBe(`@12.5 P ~> O DATA offset=0 data=0x${'ab'.repeat(16)} # data: 262144 bytes, first 16 shown`);
    const [event] = parseTraceOrThrow(text);
    expect(event!.name).toBe('DATA');
    expect(event!.fields.data).toBe(`0x${'ab'.repeat(16)}`);
    expect(event!.comment).toBe('data: 262144 bytes, first 16 shown');
  });

  it('leaves short payloads and other fields alone, and joins an existing comment', () => {
    expect(abbreviateLine('P <~ O DATA offset=3 data=0x616263')).toEqual({ text: 'P <~ O DATA offset=3 data=0x616263', dataBytes: 3 });
    expect(abbreviateLine('S ~> O JOIN pid=1 addr="tcp://x data=0x00112233445566778899aabbccddeeff0011"').text).toContain('data=0x00112233445566778899aabbccddeeff0011');
    expect(abbreviateLine(`O -> P DATA offset=0 data=0x${'00'.repeat(40)} # B'..D`).text).toBe(`O -> P DATA offset=0 data=0x${'00'.repeat(16)} # B'..D; data: 40 bytes, first 16 shown`);
    const text = abbreviateLine(`P send len=100 data=${JSON.stringify('x'.repeat(100))}`);
    expect(text).toEqual({ text: `P send len=100 data="${'x'.repeat(32)}" # data: 100 bytes, first 32 characters shown`, dataBytes: 100 });
  });

  it('no report carries a payload in full, and the artefact does', () => {
    const big = results.find((r) => r.id === 'kit.server.t1-fig9')!;
    const longest = Math.max(...big.trace.map((l) => l.length));
    expect(longest).toBeGreaterThan(100_000);
    for (const format of REPORT_FORMATS) {
      const text = formatReport(format, run);
      expect(text.length, format).toBeLessThan(longest / 2);
      expect(text, format).not.toMatch(/0x[0-9a-f]{200}/);
    }
  });
});

describe('JSON', () => {
  it('validates against urn:rebind:schema:kit-report', () => {
    const report = JSON.parse(formatReport('json', run)) as ReturnType<typeof toKitReport>;
    const check = validateWith(KIT_REPORT_SCHEMA_ID, report);
    expect(describeSchemaErrors(check.errors)).toEqual([]);
    expect(report.tool).toBe('rebind-conformance-run');
    expect(report.results.map((r) => r.verdict)).toEqual(results.map((r) => r.verdict));
    const failed = report.results.find((r) => r.id === 'kit.adapter.honest-unsupported')!;
    expect(failed.section).toBe('15.1');
    expect(failed.message).toMatch(/probe of a feature that cannot exist answered/);
  });

  it('the schema rejects what a report must not be', () => {
    const report = toKitReport(run);
    const bad = (mutate: (r: Record<string, unknown> & { results: Array<Record<string, unknown>> }) => void): string[] => {
      const copy = JSON.parse(JSON.stringify(report)) as Record<string, unknown> & { results: Array<Record<string, unknown>> };
      mutate(copy);
      return describeSchemaErrors(validateWith(KIT_REPORT_SCHEMA_ID, copy).errors);
    };
    expect(bad((r) => delete r.results[2]!.message)).not.toEqual([]);
    expect(bad((r) => (r.results[0]!.verdict = 'passed'))).not.toEqual([]);
    expect(bad((r) => (r.results[0]!.section = '6.5'))).not.toEqual([]);
    expect(bad((r) => (r.results[0]!.trace = ['x'.repeat(5000)]))).not.toEqual([]);
    expect(bad((r) => (r.started = 'yesterday'))).not.toEqual([]);
    expect(bad((r) => delete r.counts)).not.toEqual([]);
  });
});

/** A parsed XML element. */
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A small XML 1.0 reader for the test: declaration, elements, attributes (quoted, unique),
 * character and entity references, balanced tags, one root. Throws on anything not well-formed.
 */
function parseXml(source: string): XmlElement {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${at}: ${why}`);
  };
  const decode = (raw: string): string => {
    if (/[<]/.test(raw)) fail('< in text or attribute');
    return raw.replace(/&([^;]*);?/g, (all, ref: string) => {
      if (!all.endsWith(';')) fail(`unterminated reference ${all}`);
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (named[ref] !== undefined) return named[ref];
      const m = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(ref);
      if (m === null) return fail(`unknown reference &${ref};`);
      return String.fromCodePoint(m[1]!.startsWith('x') ? parseInt(m[1]!.slice(1), 16) : Number(m[1]));
    });
  };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(source)) fail('a character XML 1.0 forbids');
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/.exec(source);
  if (decl !== null) at = decl[0].length;
  const element = (): XmlElement => {
    const open = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/.exec(source.slice(at));
    if (open === null) return fail('expected a start tag');
    at += open[0].length;
    const attrs: Record<string, string> = {};
    for (const m of open[2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (m[1]! in attrs) fail(`duplicate attribute ${m[1]}`);
      attrs[m[1]!] = decode(m[2]!);
    }
    const node: XmlElement = { name: open[1]!, attrs, children: [], text: '' };
    if (open[3] === '/') return node;
    for (;;) {
      const lt = source.indexOf('<', at);
      if (lt < 0) fail(`unclosed <${node.name}>`);
      node.text += decode(source.slice(at, lt));
      at = lt;
      if (source.startsWith('</', at)) {
        const close = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(source.slice(at));
        if (close === null || close[1] !== node.name) fail(`</${close?.[1]}> closes <${node.name}>`);
        at += close![0].length;
        return node;
      }
      node.children.push(element());
    }
  };
  const root = element();
  if (source.slice(at).trim() !== '') fail('content after the root element');
  return root;
}

describe('JUnit XML', () => {
  it('is well-formed and has the shape CI systems read', () => {
    const root = parseXml(formatReport('junit', run));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '7', failures: '3', errors: '0', skipped: '2' });
    const [suite] = root.children.filter((c) => c.name === 'testsuite');
    expect(suite!.attrs.name).toBe('rebind conformance kit: reference & <liar>');
    const cases = suite!.children.filter((c) => c.name === 'testcase');
    expect(cases.map((c) => `${c.attrs.classname}.${c.attrs.name}`)).toEqual(results.map((r) => r.id));
    for (const [i, c] of cases.entries()) {
      const r = results[i]!;
      expect(Number(c.attrs.time)).toBeCloseTo(r.ms / 1000, 3);
      const props = c.children.find((x) => x.name === 'properties')!.children;
      expect(props.filter((p) => p.attrs.name === 'section').map((p) => p.attrs.value)).toEqual(r.sections);
      expect(props.find((p) => p.attrs.name === 'level')!.attrs.value).toBe(r.level);
      const failure = c.children.find((x) => x.name === 'failure');
      const skipped = c.children.find((x) => x.name === 'skipped');
      expect(failure !== undefined, r.id).toBe(r.verdict === 'fail');
      expect(skipped !== undefined, r.id).toBe(r.verdict === 'skipped' || r.verdict === 'unsupported');
      if (failure) {
        expect(failure.attrs.message).toBe(r.message);
        expect(failure.attrs.type).toBe(r.level);
        expect(failure.text).toContain(`violates §${r.section}`);
      }
      if (skipped) expect(skipped.attrs.message).toBe(`${r.verdict}: ${r.message}`);
      const out = c.children.find((x) => x.name === 'system-out');
      if (r.trace.length > 0) expect(out!.text.split('\n')).toHaveLength(r.trace.length);
    }
  });

  it('the checker rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow(/closes/);
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<a>&nbsp;</a>')).toThrow(/unknown reference/);
    expect(() => parseXml('<a>1</a><b/>')).toThrow(/after the root/);
    expect(() => parseXml('<a>\u0001</a>')).toThrow(/forbids/);
  });

  it('escapes what XML cannot carry as is', () => {
    const odd = summarizeRun([{ id: 'kit.x.y', level: 'MUST', sections: ['6.5'], verdict: 'fail', message: 'expected "<a & b>", got \u0001\nline 2', section: '6.5', ms: 1, trace: [] }], { impl: 'i' });
    const failure = parseXml(formatReport('junit', odd)).children[0]!.children.find((c) => c.name === 'testcase')!.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).toBe('expected "<a & b>", got \uFFFD\nline 2');
  });
});

describe('TAP 14', () => {
  it('follows the line grammar: version, plan, test points with YAML blocks, SKIP directives', () => {
    const lines = formatReport('tap', run).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe('TAP version 14');
    expect(lines[1]).toBe(`1..${results.length}`);
    const points: Array<{ ok: boolean; n: number; description: string; directive?: string; yaml: Record<string, unknown> }> = [];
    let yaml: string[] | undefined;
    for (const line of lines.slice(2)) {
      if (yaml !== undefined) {
        if (line === '  ...') {
          const block: Record<string, unknown> = {};
          for (const entry of yaml.join('\n').split(/\n(?=[a-z_]+:)/)) {
            const m = /^([a-z_]+):(?: ([^\n]*)|((?:\n {2}- [^\n]*)+))$/.exec(entry);
            expect(m, entry).not.toBeNull();
            const value = m![2];
            // Every scalar is a number, a bare word, a flow list or a JSON (YAML double-quoted)
            // string; a block list's items are such strings.
            block[m![1]!] = value === undefined ? m![3]!.slice(1).split('\n').map((l) => JSON.parse(l.replace(/^ {2}- /, '')) as string) : /^[A-Z]+$|^[a-z]+$/.test(value) ? value : JSON.parse(value);
          }
          points[points.length - 1]!.yaml = block;
          yaml = undefined;
        } else {
          expect(line, 'YAML lines are indented by 2').toMatch(/^ {2}\S|^ {4}- /);
          yaml.push(line.slice(2));
        }
        continue;
      }
      if (line === '  ---') {
        yaml = [];
        continue;
      }
      if (line.startsWith('#')) continue;
      const m = /^(not )?ok (\d+) - ((?:[^#\\]|\\[#\\])+?)(?: # (SKIP|TODO)(?: (.*))?)?$/.exec(line);
      expect(m, line).not.toBeNull();
      points.push({ ok: m![1] === undefined, n: Number(m![2]), description: m![3]!, ...(m![4] !== undefined ? { directive: `${m![4]} ${m![5] ?? ''}`.trim() } : {}), yaml: {} });
    }
    expect(yaml).toBeUndefined();
    expect(points.map((p) => p.n)).toEqual(results.map((_, i) => i + 1));
    for (const [i, p] of points.entries()) {
      const r = results[i]!;
      expect(p.description).toBe(r.id);
      expect(p.ok).toBe(r.verdict !== 'fail');
      expect(p.directive !== undefined).toBe(r.verdict === 'skipped' || r.verdict === 'unsupported');
      expect(p.yaml.level).toBe(r.level);
      expect(p.yaml.sections).toEqual(r.sections);
      if (r.verdict === 'fail') {
        expect(p.yaml.message).toBe(r.message);
        expect(p.yaml.section).toBe(r.section);
        // Where the case stopped: the end of its trace, data abbreviated.
        if (r.trace.length > 0) expect(p.yaml.trace_tail).toEqual(abbreviateTrace(r.trace.slice(-12)));
      }
    }
    expect(points.find((p) => p.description === 'kit.client.rdma-echo')!.directive).toBe('SKIP unsupported: needs rdma');
    expect(lines[lines.length - 1]).toMatch(/^# .*2 passed, 3 failed, 1 skipped, 1 unsupported; a MUST case failed$/);
  });
});

describe('the sequence chart (Fig. 9, Appendix A)', () => {
  const spec = readFileSync('spec/rebind.md', 'utf8');
  const appendix = spec.slice(spec.indexOf('## Appendix A'));
  const fig9 = appendix.slice(appendix.indexOf('```\n') + 4, appendix.indexOf('\n```', appendix.indexOf('```\n') + 4)).split('\n');

  it('columns P | O | S, a row per line, sends ending at their receipts (FIFO per direction)', () => {
    const chart = layoutSequence(fig9);
    expect(chart.participants).toEqual(['P', 'O', 'S']);
    expect(chart.rows).toHaveLength(fig9.length);
    const rowOf = (prefix: string): number => chart.rows.findIndex((r) => r.text.replace(/^@\S+\s+/, '').startsWith(prefix));
    const arrow = (name: string, from: string): ReturnType<typeof layoutSequence>['arrows'][number] => chart.arrows.find((a) => a.label.startsWith(name) && a.from === from)!;
    expect(arrow('SUSPEND', 'O')).toMatchObject({ to: 'P', fromRow: rowOf('O ~> P SUSPEND'), toRow: rowOf('P <~ O SUSPEND'), match: 'matched', channel: 'wire' });
    expect(arrow('ATTACHED', 'S')).toMatchObject({ to: 'P', fromRow: rowOf('S ~> P ATTACHED'), toRow: rowOf('P <~ S ATTACHED'), match: 'matched' });
    expect(arrow('DATA offset=5', 'P')).toMatchObject({ fromRow: rowOf('P ~> O DATA offset=5'), toRow: rowOf('O <~ P DATA offset=5'), match: 'matched' });
    // Local messages (§5) between O and S, delivered at once.
    expect(arrow('COPY', 'O')).toMatchObject({ to: 'S', channel: 'local', match: 'deliver', fromRow: rowOf('O -> S COPY') });
    expect(arrow('JOIN', 'S')).toMatchObject({ to: 'O', channel: 'local' });
    expect(chart.rows[rowOf('O fork S')]).toMatchObject({ kind: 'note', label: 'fork S' });
    expect(chart.firstRow.S).toBe(rowOf('O fork S'));
    expect(chart.failedRow).toBeUndefined();
  });

  it('a send without a traced receipt, a receipt without a traced send, and a DATA send read as several frames', () => {
    const chart = layoutSequence([
      'O ~> P SUSPEND fast=false hid=1',
      'P ~> O DATA offset=0 data=0x0102030405',
      'O <~ P DATA offset=0 data=0x0102',
      'O <~ P DATA offset=2 data=0x030405',
      'P <~ O REBIND hid=1 sendEnd=0',
      'this is not a trace line',
    ]);
    expect(chart.rows.map((r) => r.kind)).toEqual(['send', 'send', 'receive', 'receive', 'receive', 'unparsed']);
    expect(chart.arrows.filter((a) => a.label.startsWith('DATA')).map((a) => [a.fromRow, a.toRow, a.continued === true])).toEqual([[1, 2, false], [1, 3, true]]);
    // REBIND's receipt passes SUSPEND in FIFO order: SUSPEND was never received in this trace.
    expect(chart.arrows.find((a) => a.label.startsWith('REBIND'))).toMatchObject({ match: 'unsent', fromRow: 4, toRow: 4 });
    expect(chart.arrows.find((a) => a.label.startsWith('SUSPEND'))).toMatchObject({ match: 'unreceived', fromRow: 0, toRow: 0 });
  });

  it('the failing step: the last row of the message the failure names, else the last row', () => {
    expect(layoutSequence(fig9, { failure: 'the peer received 2 SUSPENDs: one rebind per handoff (§6.6)' }).failedRow).toBe(fig9.findIndex((l) => /P <~ O SUSPEND/.test(l)));
    expect(layoutSequence(fig9, { failure: 'no verdict within 20 s (§15.1)' }).failedRow).toBe(fig9.length - 1);
  });

  it('expected and actual are read from a failure message', () => {
    expect(splitFailure('the origin read: expected 3000 bytes, got 2000; first difference at byte 7 (§6.4)', '6.4')).toEqual({ what: 'the origin read', expected: '3000 bytes', actual: '2000; first difference at byte 7', text: 'the origin read: expected 3000 bytes, got 2000; first difference at byte 7' });
    expect(splitFailure('no verdict within 5 s (§15.1)', '15.1')).toEqual({ text: 'no verdict within 5 s' });
  });
});

describe('HTML', () => {
  it('one self-contained page: summary linking every case, the failures with their section, the failing step marked', () => {
    const html = formatReport('html', run);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/\s(?:src|href)="(?!#)/);
    expect(html).not.toMatch(/url\((?!#)/);
    expect(html).toContain("default-src 'none'");
    for (const r of results) expect(html).toContain(`<a href="#case-${r.id}">`);
    expect(html).toContain('id="case-kit.server.t1-fig9"');
    expect(html.match(/class="case fail"/g)).toHaveLength(3);
    // Each failed case marks one step (a row of its chart, or its failure when it has no trace).
    const sections = html.split('<section ').slice(1);
    for (const s of sections) expect(s.includes('failed-step'), s.slice(0, 80)).toBe(s.startsWith('class="case fail"'));
    expect(html).toContain('&lt;liar&gt;');
    expect(html).toContain('<dt>section</dt><dd>§15.1</dd>');
    expect(html).toMatch(/<svg class="seq"[^>]*aria-label="sequence chart of kit\.server\.t1-fig9"/);
    expect(html.length).toBeLessThan(200_000);
  });
});

describe('writeArtefacts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rebind-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every report and each case\'s full trace, which reads back as the notation', () => {
    const written = writeArtefacts(dir, run);
    expect(readdirSync(dir).sort()).toEqual(['cases', 'report.html', 'report.json', 'report.tap', 'report.xml']);
    expect(written).toHaveLength(4 + results.length);
    const fig9 = results.find((r) => r.id === 'kit.server.t1-fig9')!;
    const trace = readFileSync(join(dir, 'cases', 'kit.server.t1-fig9.trace'), 'utf8');
    expect(trace).toBe(`${fig9.trace.join('\n')}\n`);
    expect(parseTraceOrThrow(trace)).toHaveLength(fig9.trace.length);
    expect(readFileSync(join(dir, 'report.tap'), 'utf8')).toBe(formatReport('tap', run));
    expect(validateWith(KIT_REPORT_SCHEMA_ID, JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).valid).toBe(true);
    expect(readFileSync(join(dir, 'cases', 'kit.fault.netns-cut.trace'), 'utf8')).toBe('');
  });
});
