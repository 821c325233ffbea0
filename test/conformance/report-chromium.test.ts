/**
 * The HTML report (spec §15.1, "Reports") in a real browser: headless Chromium renders a report of
 * real kit results — the reference passing, a case cut short by its timeout and the lying adapter
 * caught — and takes a screenshot. The screenshot must be a 1280-pixel-wide PNG that is not a
 * blank page (compared with a blank page rendered the same way), showing the failing step's red
 * band; the DOM Chromium built must have the failing step marked (`failed-step`) in the failed
 * cases only; and the page prints to PDF.
 *
 * Skipped when no Chromium binary is found (Debian: `apt-get install -y chromium`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKit, type CaseResult } from '../../conformance/run.js';
import { KIT_CASES } from '../../conformance/cases/index.js';
import { summarizeRun, writeArtefacts } from '../../conformance/report/index.js';

const LIAR = 'test/conformance/fixtures/lying-adapter.mjs';

/** The first Chromium on $CHROMIUM or the PATH. */
function findChromium(): string | undefined {
  if (process.env.CHROMIUM !== undefined && existsSync(process.env.CHROMIUM)) return process.env.CHROMIUM;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
      const path = join(dir, name);
      if (dir !== '' && existsSync(path)) return path;
    }
  }
  return undefined;
}

const chromium = findChromium();
const dir = mkdtempSync(join(tmpdir(), 'rebind-chromium-'));
let results: CaseResult[] = [];
let reportPath = '';

/** Runs headless Chromium on a file with its own profile; resolves with its stdout. */
function headless(file: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      chromium!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, ...args, pathToFileURL(file).href],
      { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** The RGBA pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes). */
function decodePng(png: Buffer): { width: number; height: number; pixel(x: number, y: number): [number, number, number] } {
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  // Undo the per-row filters (PNG spec §9).
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[y * stride + i - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      if (predictor === undefined) throw new Error(`bad PNG filter ${filter}`);
      out[y * stride + i] = (row[i]! + predictor) & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [out[y * stride + x * channels]!, out[y * stride + x * channels + 1]!, out[y * stride + x * channels + 2]!] };
}

/** How many pixels have exactly this colour, and how many are not white. */
function census(png: Buffer, colour: [number, number, number]): { exact: number; nonWhite: number } {
  const image = decodePng(png);
  let exact = 0;
  let nonWhite = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const [r, g, b] = image.pixel(x, y);
      if (r === colour[0] && g === colour[1] && b === colour[2]) exact++;
      if (r < 250 || g < 250 || b < 250) nonWhite++;
    }
  }
  return { exact, nonWhite };
}

beforeAll(async () => {
  if (chromium === undefined) return;
  const pick = (...ids: string[]): typeof KIT_CASES => KIT_CASES.filter((c) => ids.includes(c.id));
  const [hello, fig9] = await runKit({ impl: 'reference', cases: pick('kit.adapter.hello', 'kit.server.t1-fig9') });
  // A real case stopped by the kit's timeout mid-case: a failure whose trace ends where it stopped.
  // The ABORT-timer case cannot finish in 0.6 s (its timers alone take 1.3 s).
  const slow = pick('kit.fault.timeout.abort');
  const cut = await runKit(slow.length > 0 ? { impl: 'reference', cases: slow, timeout: 0.6 } : { impl: 'reference', cases: pick('kit.server.t3-fast'), timeout: 0.2 });
  const lie = await runKit({ impl: LIAR, cases: pick('kit.adapter.honest-unsupported'), timeout: 5 });
  // The failing case with a chart first, so that its chart is within the screenshot.
  results = [hello!, ...cut, ...lie, fig9!];
  const run = summarizeRun(results, { impl: 'reference', cases: KIT_CASES });
  writeArtefacts(dir, run, ['html']);
  reportPath = join(dir, 'report.html');
  writeFileSync(join(dir, 'blank.html'), '<!doctype html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n');
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the HTML report in headless Chromium', () => {
  it.skipIf(chromium === undefined)(`renders to a PNG screenshot that is not blank${chromium === undefined ? ' (skipped: no chromium binary on the PATH; apt-get install -y chromium)' : ''}`, async () => {
    expect(results.map((r) => r.verdict)).toEqual(['pass', 'fail', 'fail', 'pass']);
    const shot = join(dir, 'report.png');
    const blank = join(dir, 'blank.png');
    await headless(reportPath, `--screenshot=${shot}`, '--window-size=1280,2000');
    await headless(join(dir, 'blank.html'), `--screenshot=${blank}`, '--window-size=1280,2000');
    const png = readFileSync(shot);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBe(2000);
    // Not blank: far bigger than the blank page's PNG, and many pixels that are not white.
    expect(statSync(shot).size).toBeGreaterThan(5 * statSync(blank).size);
    const blankCensus = census(readFileSync(blank), [255, 217, 217]);
    expect(blankCensus.nonWhite).toBe(0);
    // #ffd9d9 is the failing step's band in the chart (rect.failed-step).
    const page = census(png, [255, 217, 217]);
    expect(page.nonWhite).toBeGreaterThan(50_000);
    if (results[1]!.trace.length > 0) expect(page.exact).toBeGreaterThan(2_000);
  }, 180_000);

  it.skipIf(chromium === undefined)('the DOM Chromium built marks the failing step in the failed cases, and only there', async () => {
    const dom = await headless(reportPath, '--dump-dom');
    expect(dom).toContain('<svg class="seq"');
    const sections = dom.split('<section ').slice(1);
    expect(sections).toHaveLength(results.length);
    for (const [i, section] of sections.entries()) {
      const r = results[i]!;
      expect(section).toContain(`id="case-${r.id}"`);
      expect(section.includes('failed-step'), r.id).toBe(r.verdict === 'fail');
    }
    // The case with a trace marks a row of its chart; the one without marks its failure.
    if (results[1]!.trace.length > 0) expect(sections[1]).toMatch(/<rect class="failed-step"/);
    expect(sections[2]).toMatch(/<dl class="failure failed-step">/);
  }, 180_000);

  it.skipIf(chromium === undefined)('prints to PDF', async () => {
    const pdf = join(dir, 'report.pdf');
    await headless(reportPath, `--print-to-pdf=${pdf}`, '--no-pdf-header-footer');
    const bytes = readFileSync(pdf);
    expect(bytes.toString('latin1', 0, 5)).toBe('%PDF-');
    expect(bytes.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
