/**
 * The JUnit XML report of a kit run (spec §15.1, "Reports"), in the shape CI systems read:
 * `<testsuites>` with one `<testsuite>`, one `<testcase classname name time>` per case (classname:
 * the id up to its last dot, name: the rest), `<failure message type>` for a failed case (type:
 * its level, MUST or SHOULD), `<skipped message>` for skipped and unsupported cases, the case's
 * level and sections as `<properties>`, and its trace (data abbreviated) as `<system-out>`.
 *
 * @module
 */
import { abbreviateTrace, type ReportCase, type RunSummary } from './summary.js';

/** The JUnit XML report as text. */
export function formatJunit(run: RunSummary): string {
  const { counts } = run;
  const tests = run.results.length;
  const skipped = counts.skipped + counts.unsupported;
  const time = seconds(run.durationMs);
  const suiteProperties = [
    ['impl', run.impl],
    ['transport', run.transport],
    ['kitVersion', run.kitVersion],
    ['ok', String(run.ok)],
    ['unsupported', String(counts.unsupported)],
  ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="rebind conformance" tests="${tests}" failures="${counts.failed}" errors="0" skipped="${skipped}" time="${time}">`,
    `  <testsuite name="${attr(`rebind conformance kit: ${run.impl}`)}" tests="${tests}" failures="${counts.failed}" errors="0" skipped="${skipped}" time="${time}" timestamp="${attr(run.started.replace(/\.\d+Z$/, 'Z').replace(/Z$/, ''))}">`,
    '    <properties>',
    ...suiteProperties.map(([name, value]) => `      <property name="${attr(name!)}" value="${attr(value!)}"/>`),
    '    </properties>',
    ...run.results.flatMap(testcase),
    '  </testsuite>',
    '</testsuites>',
  ];
  return `${lines.join('\n')}\n`;
}

function testcase(r: ReportCase): string[] {
  const dot = r.id.lastIndexOf('.');
  const classname = dot > 0 ? r.id.slice(0, dot) : r.id;
  const name = dot > 0 ? r.id.slice(dot + 1) : r.id;
  const out = [`    <testcase classname="${attr(classname)}" name="${attr(name)}" time="${seconds(r.ms)}">`, '      <properties>'];
  out.push(`        <property name="id" value="${attr(r.id)}"/>`);
  if (r.title !== undefined) out.push(`        <property name="title" value="${attr(r.title)}"/>`);
  out.push(`        <property name="level" value="${r.level}"/>`);
  for (const section of r.sections) out.push(`        <property name="section" value="${attr(section)}"/>`);
  out.push('      </properties>');
  if (r.verdict === 'fail') {
    const body = [r.message ?? '', r.section !== undefined ? `violates §${r.section}` : 'no section named', `level ${r.level}`].join('\n');
    out.push(`      <failure message="${attr(r.message ?? 'failed')}" type="${r.level}">${text(body)}</failure>`);
  } else if (r.verdict === 'skipped' || r.verdict === 'unsupported') {
    out.push(`      <skipped message="${attr(`${r.verdict}${r.message !== undefined ? `: ${r.message}` : ''}`)}"/>`);
  }
  if (r.trace.length > 0) out.push(`      <system-out>${text(abbreviateTrace(r.trace).join('\n'))}</system-out>`);
  out.push('    </testcase>');
  return out;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** XML 1.0 cannot carry most control characters at all, not even as references. */
function xmlChars(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Escapes element text. */
function text(value: string): string {
  return xmlChars(value).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string);
}

/** Escapes an attribute value; line breaks and tabs as references so they survive normalisation. */
function attr(value: string): string {
  return xmlChars(value).replace(/[&<>"\n\r\t]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[c] as string);
}
