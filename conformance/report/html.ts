/**
 * The HTML report of a kit run (spec §15.1, "Reports"): one self-contained file — inline CSS and
 * SVG, no external resource (its Content-Security-Policy forbids any), readable without JS and
 * printable. At the top the run and its counts, and a table of every case's verdict linking to the
 * case; then per case its failure (expected, actual, section) and its sequence chart in the manner
 * of the seed's Fig. 9 (`sequence.ts`), with the failing step highlighted (class `failed-step`),
 * and its trace (data abbreviated) folded in a `<details>`.
 *
 * @module
 */
import { layoutSequence, type ChartArrow, type SequenceChart } from './sequence.js';
import { abbreviateTrace, traceFileName, type ReportCase, type RunSummary } from './summary.js';

/** Geometry of the chart, in CSS pixels. */
const GUTTER = 92;
const COLUMN = 250;
const HEADER = 40;
const ROW = 22;
const FOOTER = 34;
/** Width of one character of the chart's 11 px monospace font. */
const CHAR = 6.65;
/** A trace longer than this many rows shows its head, its tail and the failing step; gaps say what they leave out. */
const MAX_ROWS = 400;
const HEAD_ROWS = 120;
const TAIL_ROWS = 260;

/** The HTML report of a run. */
export function formatHtml(run: RunSummary): string {
  const { counts } = run;
  const title = `rebind conformance: ${run.impl} — ${counts.passed} passed, ${counts.failed} failed`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<svg class="defs" width="0" height="0" aria-hidden="true"><defs>
<marker id="ah-w" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#1f4e9c"/></marker>
<marker id="ah-l" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#2d7a3e"/></marker>
<marker id="ah-x" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#c62828"/></marker>
<marker id="os" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="7" markerHeight="7"><circle cx="5" cy="5" r="4" fill="#fff" stroke="#555" stroke-width="1.5"/></marker>
</defs></svg>
<header>
<h1>rebind conformance kit</h1>
<p class="overall ${run.ok ? 'ok' : 'notok'}">${run.ok ? '✓ no MUST case failed' : '✗ a MUST case failed'}</p>
<dl class="meta">
<dt>implementation</dt><dd>${esc(run.impl)}</dd>
<dt>transport</dt><dd>${esc(run.transport)}</dd>
<dt>started</dt><dd>${esc(run.started)}</dd>
<dt>duration</dt><dd>${(run.durationMs / 1000).toFixed(1)} s</dd>
<dt>kit</dt><dd>${esc(run.kitVersion)}</dd>
</dl>
<p class="counts"><span class="badge pass">${counts.passed} passed</span> <span class="badge fail">${counts.failed} failed</span> <span class="badge skipped">${counts.skipped} skipped</span> <span class="badge unsupported">${counts.unsupported} unsupported</span></p>
</header>
<table class="summary">
<thead><tr><th>#</th><th>verdict</th><th>case</th><th>level</th><th>sections</th><th>ms</th><th>message</th></tr></thead>
<tbody>
${run.results.map((r, i) => `<tr class="${r.verdict}"><td>${i + 1}</td><td><span class="badge ${r.verdict}">${r.verdict}</span></td><td><a href="#${anchor(r.id)}">${esc(r.id)}</a></td><td>${r.level}</td><td>${r.sections.map((s) => `§${esc(s)}`).join(' ')}</td><td class="num">${r.ms}</td><td>${esc(shorten(r.message ?? '', 160))}</td></tr>`).join('\n')}
</tbody>
</table>
<p class="legend"><svg width="520" height="20" aria-hidden="true"><line class="w" x1="4" y1="10" x2="64" y2="10"/><text x="70" y="14">wire (§4)</text><line class="l" x1="150" y1="10" x2="210" y2="10"/><text x="216" y="14">local (§5)</text><line class="w u" x1="300" y1="10" x2="360" y2="10"/><text x="366" y="14">receipt not traced</text></svg></p>
${run.results.map(caseSection).join('\n')}
<script>addEventListener('beforeprint', () => { for (const d of document.querySelectorAll('details')) d.open = true; });</script>
</body>
</html>
`;
}

/** One case: its header, its failure, its chart, its trace. */
function caseSection(r: ReportCase): string {
  const failed = r.verdict === 'fail';
  const layout = r.trace.length > 0 ? layoutSequence(r.trace, failed ? { failure: r.message ?? '' } : {}) : undefined;
  const chart = layout !== undefined && layout.rows.length > 0 ? drawChart(layout, r) : '';
  const parts = [
    `<section class="case ${r.verdict}" id="${anchor(r.id)}">`,
    `<h2><span class="badge ${r.verdict}">${r.verdict}</span> ${esc(r.id)}</h2>`,
    `<p class="sub">${r.level} · ${r.sections.map((s) => `§${esc(s)}`).join(' ')} · ${r.ms} ms${r.title !== undefined ? ` — ${esc(r.title)}` : ''}</p>`,
  ];
  // Without a step to point at (no trace), the failure itself is the highlighted step.
  if (failed) parts.push(failureBlock(r, layout?.failedRow === undefined));
  else if (r.message !== undefined) parts.push(`<p class="reason">${esc(r.message)}</p>`);
  if (chart !== '') {
    if (failed) parts.push(`<div class="chart">${chart}</div>`);
    else parts.push(`<details><summary>sequence chart (${r.trace.length} lines)</summary><div class="chart">${chart}</div></details>`);
  }
  if (r.trace.length > 0) parts.push(`<details><summary>trace (${r.trace.length} lines, data abbreviated; the full trace is cases/${esc(traceFileName(r.id))})</summary><pre>${esc(abbreviateTrace(r.trace).join('\n'))}</pre></details>`);
  else parts.push('<p class="reason">no trace</p>');
  parts.push('<p class="top"><a href="#">↑ summary</a></p></section>');
  return parts.join('\n');
}

/** Expected, actual and the section of a failure (§15.1), read from the message when it says them. */
export function splitFailure(message: string, section?: string): { what?: string; expected?: string; actual?: string; text: string } {
  const text = section !== undefined ? message.replace(new RegExp(` \\(§${section.replace(/\./g, '\\.')}\\)$`), '') : message;
  const match = /^(?:(.*?):? )?expected (.+?),? (?:but )?got (.+)$/s.exec(text);
  if (match === null) return { text };
  return { ...(match[1] !== undefined && match[1] !== '' ? { what: match[1] } : {}), expected: match[2]!, actual: match[3]!, text };
}

function failureBlock(r: ReportCase, highlight: boolean): string {
  const f = splitFailure(r.message ?? '', r.section);
  const rows = f.expected !== undefined
    ? `${f.what !== undefined ? `<dt>check</dt><dd>${esc(f.what)}</dd>` : ''}<dt>expected</dt><dd>${esc(f.expected)}</dd><dt>actual</dt><dd>${esc(f.actual ?? '')}</dd>`
    : `<dt>failure</dt><dd>${esc(f.text)}</dd>`;
  return `<dl class="failure${highlight ? ' failed-step' : ''}">${rows}<dt>section</dt><dd>${r.section !== undefined ? `§${esc(r.section)}` : 'not named'}</dd></dl>`;
}

/** A run of rows not drawn, starting at row `from`. */
interface Gap {
  readonly from: number;
  readonly gap: number;
}

/** Which rows are drawn: all, or for a long trace the head, the tail and the failing step's surroundings. */
function visibleRows(chart: SequenceChart): Array<number | Gap> {
  const n = chart.rows.length;
  const keep = new Set<number>();
  if (n <= MAX_ROWS) for (let i = 0; i < n; i++) keep.add(i);
  else {
    for (let i = 0; i < HEAD_ROWS; i++) keep.add(i);
    for (let i = n - TAIL_ROWS; i < n; i++) keep.add(i);
    if (chart.failedRow !== undefined) for (let i = Math.max(0, chart.failedRow - 8); i <= Math.min(n - 1, chart.failedRow + 8); i++) keep.add(i);
  }
  const out: Array<number | Gap> = [];
  for (let i = 0; i < n; i++) {
    if (keep.has(i)) out.push(i);
    else {
      const last = out[out.length - 1];
      if (typeof last === 'object') out[out.length - 1] = { from: last.from, gap: last.gap + 1 };
      else out.push({ from: i, gap: 1 });
    }
  }
  return out;
}

/** The chart as inline SVG. */
function drawChart(chart: SequenceChart, r: ReportCase): string {
  const columns = new Map(chart.participants.map((p, i) => [p, GUTTER + COLUMN * i + COLUMN / 2]));
  const width = GUTTER + COLUMN * Math.max(1, chart.participants.length) + 8;
  const layout = visibleRows(chart);
  // y of each row's centre; a row hidden in a gap takes the gap's y.
  const yOf = new Map<number, number>();
  const shown = new Set<number>();
  layout.forEach((item, slot) => {
    const y = HEADER + slot * ROW + ROW / 2;
    if (typeof item === 'number') {
      yOf.set(item, y);
      shown.add(item);
    } else for (let k = 0; k < item.gap; k++) yOf.set(item.from + k, y);
  });
  const bodyBottom = HEADER + layout.length * ROW;
  const failed = r.verdict === 'fail';
  const height = bodyBottom + (failed ? FOOTER : 6);
  const out: string[] = [];
  out.push(`<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`sequence chart of ${r.id}`)}">`);
  // Row backgrounds: zebra stripes, the failing step, the gaps.
  layout.forEach((item, slot) => {
    const top = HEADER + slot * ROW;
    if (typeof item === 'number') {
      if (item === chart.failedRow) out.push(`<rect class="failed-step" x="0" y="${top}" width="${width}" height="${ROW}"><title>${esc(`the failing step: line ${chart.rows[item]!.line}`)}</title></rect>`);
      else if (slot % 2 === 1) out.push(`<rect class="z" x="0" y="${top}" width="${width}" height="${ROW}"/>`);
    } else out.push(`<rect class="gap" x="0" y="${top}" width="${width}" height="${ROW}"/><text class="gapt" x="${width / 2}" y="${top + 15}">… ${item.gap} lines not drawn (see the trace) …</text>`);
  });
  // Participants and lifelines.
  for (const p of chart.participants) {
    const x = columns.get(p)!;
    const first = chart.firstRow[p] ?? 0;
    const start = (yOf.get(first) ?? HEADER + ROW / 2) - ROW / 2;
    if (start > HEADER) out.push(`<line class="life pre" x1="${x}" y1="${HEADER}" x2="${x}" y2="${start}"/>`);
    out.push(`<line class="life" x1="${x}" y1="${start}" x2="${x}" y2="${bodyBottom}"/>`);
    const name = `${p} ${roleOf(p)}`;
    const w = Math.min(COLUMN - 20, name.length * CHAR + 16);
    out.push(`<rect class="who" x="${x - w / 2}" y="6" width="${w}" height="26" rx="4"/><text class="whot" x="${x}" y="23">${esc(name)}</text>`);
  }
  // Gutter: trace line and time since the first line.
  for (const [index, y] of yOf) {
    if (!shown.has(index)) continue;
    const row = chart.rows[index]!;
    out.push(`<text class="g" x="4" y="${y + 4}">${row.line}${row.at !== undefined ? ` +${row.at.toFixed(1)}` : ''}</text>`);
  }
  // Notes (actions) on their lifeline, and lines not in the notation across the chart.
  for (const [index, y] of yOf) {
    if (!shown.has(index)) continue;
    const row = chart.rows[index]!;
    const mark = index === chart.failedRow ? ' x' : '';
    if (row.kind === 'note') {
      const x = columns.get(row.event!.actor)!;
      const text = fit(row.label, COLUMN - 24);
      const w = text.length * CHAR + 10;
      out.push(`<g class="n${mark}"><title>${esc(row.text)}</title><rect x="${x - w / 2}" y="${y - 8}" width="${w}" height="16" rx="3"/><text x="${x}" y="${y + 4}">${esc(text)}</text></g>`);
    } else if (row.kind === 'unparsed') {
      out.push(`<g class="bad${mark}"><title>${esc(`not in the notation of §13.1: ${row.text}`)}</title><text x="${GUTTER}" y="${y + 4}">${esc(fit(row.text, width - GUTTER - 8))}</text></g>`);
    }
  }
  for (const arrow of chart.arrows) out.push(drawArrow(arrow, columns, yOf, chart));
  if (failed) {
    const y = bodyBottom + 6;
    const text = `✗ ${splitFailure(r.message ?? '', r.section).text}${r.section !== undefined ? ` (§${r.section})` : ''}`;
    out.push(`<g class="verdict"><title>${esc(r.message ?? '')}</title><rect x="0" y="${y}" width="${width}" height="${FOOTER - 10}"/><text x="8" y="${y + 16}">${esc(fit(text, width - 16))}</text></g>`);
  }
  out.push('</svg>');
  return out.join('');
}

function drawArrow(a: ChartArrow, columns: ReadonlyMap<string, number>, yOf: ReadonlyMap<number, number>, chart: SequenceChart): string {
  const x1 = columns.get(a.from);
  const x2 = columns.get(a.to);
  const y1 = yOf.get(a.fromRow);
  const y2 = yOf.get(a.toRow);
  if (x1 === undefined || x2 === undefined || y1 === undefined || y2 === undefined) return '';
  if (a.fromRow !== a.toRow && y1 === y2) return ''; // both ends in the same gap
  const failedHere = chart.failedRow !== undefined && (a.toRow === chart.failedRow || (a.fromRow === chart.failedRow && a.match !== 'matched'));
  const classes = [a.channel === 'local' ? 'l' : 'w', a.match === 'unreceived' ? 'u' : '', a.match === 'unsent' ? 'o' : '', failedHere ? 'x' : ''].filter((c) => c !== '').join(' ');
  const dir = x2 > x1 ? 1 : -1;
  // Level arrows stop short of the receiver's lifeline when the receipt is not traced.
  const end = a.match === 'unreceived' ? x2 - dir * 18 : x2 - dir * 2;
  // The label sits above the arrow's tail (clear of arrows that cross it further on); a DATA send
  // read as several frames labels each further receipt at its head instead.
  const atHead = a.continued === true;
  const anchorX = atHead ? end - dir * 6 : x1 + dir * 6;
  const anchorY = (atHead ? y2 : y1) - 4;
  const label = fit(a.label, Math.max(60, Math.abs(end - x1) - 12));
  const side = (dir > 0) !== atHead ? 'start' : 'end';
  const note = a.match === 'unreceived' ? ' (receipt not in the trace)' : a.match === 'unsent' ? ' (send not in the trace)' : '';
  const rows = a.fromRow === a.toRow ? `line ${chart.rows[a.fromRow]!.line}` : `lines ${chart.rows[a.fromRow]!.line} → ${chart.rows[a.toRow]!.line}`;
  return `<g class="${classes}"><title>${esc(`${a.from} → ${a.to} ${a.label}${note}, ${rows}`)}</title><line x1="${x1}" y1="${y1}" x2="${end.toFixed(1)}" y2="${y2}"/><text x="${anchorX.toFixed(1)}" y="${anchorY}" text-anchor="${side}">${esc(label)}</text></g>`;
}

/** The role a participant's name says (§2.1, §13.1: O origin, P peer, S successor). */
function roleOf(actor: string): string {
  return actor.startsWith('P') ? '(peer)' : actor.startsWith('O') ? '(origin)' : actor.startsWith('S') ? '(successor)' : '';
}

/** Text cut to fit `px` pixels of the chart's font. */
function fit(text: string, px: number): string {
  const max = Math.max(4, Math.floor(px / CHAR));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The HTML id of a case's section. */
export function anchor(id: string): string {
  return `case-${id.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/** Escapes text for HTML text and attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px; color: #1b1b1b; background: #fff; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 0 0 2px; font-family: ui-monospace, monospace; break-after: avoid; }
.overall { font-weight: 600; font-size: 16px; margin: 4px 0; }
.overall.ok { color: #1b5e20; } .overall.notok { color: #b71c1c; }
.meta { display: grid; grid-template-columns: max-content auto; gap: 0 12px; margin: 6px 0; }
.meta dt { color: #555; } .meta dd { margin: 0; font-family: ui-monospace, monospace; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; background: #777; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; } .badge.skipped { background: #8d6e63; } .badge.unsupported { background: #5c6bc0; }
table.summary { border-collapse: collapse; margin: 10px 0 16px; font-size: 13px; }
table.summary th, table.summary td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.summary tr.fail td { background: #fff3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
a { color: #1f4e9c; }
.case { border-top: 2px solid #ccc; padding: 12px 0 4px; margin-top: 12px; }
.case.fail { border-top-color: #c62828; }
.sub { color: #555; margin: 0 0 8px; }
.failure { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; background: #fff3f3; border-left: 4px solid #c62828; padding: 6px 10px; margin: 6px 0 10px; }
.failure dt { font-weight: 600; } .failure dd { margin: 0; font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
.reason { color: #555; font-style: italic; }
.chart { overflow-x: auto; margin: 6px 0; }
svg.seq { max-width: 100%; height: auto; font: 11px ui-monospace, "DejaVu Sans Mono", monospace; }
svg.defs { position: absolute; }
.legend svg { font: 12px system-ui, sans-serif; }
.z { fill: #f7f7f9; } .gap { fill: #eee; } .gapt { fill: #666; text-anchor: middle; font-style: italic; }
rect.failed-step { fill: #ffd9d9; stroke: #c62828; stroke-width: 1; }
dl.failed-step { border: 2px solid #c62828; border-left-width: 6px; }
.life { stroke: #9a9a9a; stroke-width: 1.5; } .life.pre { stroke-dasharray: 2 4; stroke-width: 1; }
.who { fill: #eef2f8; stroke: #51607a; } .whot { text-anchor: middle; font-weight: 700; }
.g { fill: #888; font-size: 10px; }
.n rect { fill: #fffbe6; stroke: #b39b3c; } .n text { text-anchor: middle; }
.bad text { fill: #8a4b00; font-style: italic; }
.w line, line.w { stroke: #1f4e9c; stroke-width: 1.4; marker-end: url(#ah-w); }
.l line, line.l { stroke: #2d7a3e; stroke-width: 1.4; stroke-dasharray: 6 4; marker-end: url(#ah-l); }
.u line, line.u { opacity: .55; stroke-dasharray: 2 3; }
.o line { marker-start: url(#os); }
.w text, .l text { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.w text { fill: #173a75; } .l text { fill: #22602f; }
.u text { fill: #777; }
.x line { stroke: #c62828; stroke-width: 2.2; marker-end: url(#ah-x); opacity: 1; }
.x text { fill: #b71c1c; font-weight: 700; }
.n.x rect { fill: #ffd9d9; stroke: #c62828; stroke-width: 2; }
.verdict rect { fill: #ffe9e9; stroke: #c62828; } .verdict text { fill: #b71c1c; font-weight: 700; }
pre { font: 11.5px/1.35 ui-monospace, monospace; background: #f6f6f6; padding: 8px; overflow-x: auto; white-space: pre; }
details > summary { cursor: pointer; color: #1f4e9c; margin: 4px 0; }
.top { font-size: 12px; margin: 4px 0 0; }
@media print {
  body { margin: 0; font-size: 11px; }
  .chart { overflow: visible; }
  pre { white-space: pre-wrap; word-break: break-all; }
  .top, details > summary { display: none; }
  a { color: inherit; text-decoration: none; }
}
`;
