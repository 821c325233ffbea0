// The spec is the source of truth: these tests keep its generated quotations current and make sure
// every section that code, tables and vectors cite really exists in spec/rebind.md.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain ES module script without types; renderSections(text, root) → { text, missing }
import { renderSections, SECTIONS } from '../../scripts/spec-sections.mjs';
import errorTable from '../../spec/tables/errors.json' with { type: 'json' };
import messageTable from '../../spec/tables/messages.json' with { type: 'json' };
import { STATE_TABLES, TIMERS } from '../../reference/tables.js';

const spec = readFileSync('spec/rebind.md', 'utf8');
// Numbered sections are anchored as <a id="s6.2"></a>, appendices as <a id="appA"></a> (cited as "A").
const anchors = new Set([...spec.matchAll(/<a id="(?:s([0-9][0-9.]*)|app([A-Z]))"><\/a>/g)].map((m) => m[1] ?? m[2]));

function citedSections(): Map<string, string[]> {
  const cited = new Map<string, string[]>();
  const add = (section: string, where: string): void => {
    for (const s of section.split(/\s*,\s*/)) cited.set(s, [...(cited.get(s) ?? []), where]);
  };
  for (const e of errorTable.errors) add(e.section, `errors.json ${e.name}`);
  for (const m of messageTable.messages) add(m.section, `messages.json ${m.name}`);
  for (const [role, table] of Object.entries(STATE_TABLES)) for (const t of table.transitions) add(t.section, `states.json ${role} ${t.id}`);
  for (const [name, timer] of Object.entries(TIMERS)) add(timer.section, `timer ${name}`);
  for (const file of readdirSync('vectors', { recursive: true }).map(String).filter((f) => f.endsWith('.trace'))) {
    const text = readFileSync(join('vectors', file), 'utf8');
    for (const m of text.matchAll(/^#! (?:sections|violates): (.+)$/gm)) add(m[1]!.trim(), `vectors/${file}`);
  }
  // Code cites sections as "§N.M" in comments and messages.
  for (const dir of ['reference', 'conformance']) {
    for (const file of readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/§([0-9]{1,2}(?:\.[0-9]{1,2})*)(?![0-9])/g)) add(m[1]!, `${dir}/${file}`);
    }
  }
  return cited;
}

describe('spec/rebind.md', () => {
  it('quotes the current tables and grammars (run `node scripts/sync-spec.mjs` after changing them)', () => {
    const { text, missing } = renderSections(spec, '.') as { text: string; missing: string[] };
    expect(missing).toEqual([]);
    expect(text === spec, 'spec/rebind.md is stale').toBe(true);
    expect(Object.keys(SECTIONS).length).toBeGreaterThanOrEqual(8);
  });

  it('has the fixed table of contents of sections 1 to 15 and appendices A and B', () => {
    for (let n = 1; n <= 15; n++) expect(anchors, `§${n}`).toContain(String(n));
    for (const s of ['1.1', '2.4', '3.4', '4.13', '5.8', '6.2', '6.3', '6.7', '7.4', '7.5', '8.3', '9.8', '10.2', '11.3', '13.3']) expect(anchors, `§${s}`).toContain(s);
    expect(anchors).toContain('A');
    expect(anchors).toContain('B');
  });

  it('has a section for everything the tables, vectors and code cite', () => {
    const missing = [...citedSections()].filter(([section]) => !anchors.has(section)).map(([section, where]) => `§${section} cited by ${where.slice(0, 3).join(', ')}`);
    expect(missing).toEqual([]);
  });

  it('has one section per message, titled with its name', () => {
    for (const m of messageTable.messages) expect(spec).toMatch(new RegExp(`### ${m.section.replace('.', '\\.')} ${m.name}\\b`));
  });

  it('uses the RFC 2119 key words', () => {
    for (const word of ['MUST', 'MUST NOT', 'SHOULD', 'MAY']) expect(spec).toContain(word);
  });
});
