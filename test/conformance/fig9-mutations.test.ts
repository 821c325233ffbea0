/**
 * Mutations of the Fig. 9 vector (spec §6.2, Appendix A): every event line moved to every other
 * position. A mutant may be a valid run too (two independent events swapped), so each is either
 * accepted or rejected with a located diagnostic that cites a section. The number rejected has a
 * floor, so a weaker checker cannot slip through unnoticed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../reference/diagnostics.js';
import { checkTrace, parseTrace } from '../../reference/trace/index.js';

const FILE = 'vectors/traces/stop-and-wait.trace';
const lines = readFileSync(FILE, 'utf8').split('\n');
/** Indexes (0-based) of the lines that hold an event. */
const eventLines = lines.flatMap((line, index) => (/^\s*(#|$)/.test(line) ? [] : [index]));

/** The text with event `from` (an index into eventLines) moved to just before event `to` (or to the end). */
function move(from: number, to: number): { text: string; movedTo: number } {
  const order = eventLines.filter((_, i) => i !== from);
  const position = to > from ? to - 1 : to;
  order.splice(position, 0, eventLines[from] as number);
  const out = [...lines];
  eventLines.forEach((slot, i) => {
    out[slot] = lines[order[i] as number] as string;
  });
  return { text: out.join('\n'), movedTo: (eventLines[position] as number) + 1 };
}

function check(text: string): Diagnostic[] {
  const parsed = parseTrace(text, { source: FILE });
  return parsed.diagnostics.length > 0 ? parsed.diagnostics : checkTrace(parsed.events, { source: FILE });
}

/** Every move of one event line to another position (moving to the slot after the next is the same as moving the next up, so both count). */
const mutants = eventLines.flatMap((_, from) =>
  Array.from({ length: eventLines.length + 1 }, (_, to) => to).filter((to) => to !== from && to !== from + 1).map((to) => ({ from, to, ...move(from, to) })),
);

/** The floor: rejected moves when this test was written. Raise it when the checker gets stricter. */
const MIN_REJECTED = 1088;

describe('Fig. 9 mutations', () => {
  it('the vector itself is accepted', () => {
    expect(check(lines.join('\n'))).toEqual([]);
  });

  const results = mutants.map((m) => ({ ...m, diagnostics: check(m.text) }));
  const rejected = results.filter((r) => r.diagnostics.length > 0);

  it(`${rejected.length} of ${results.length} moves are rejected (floor ${MIN_REJECTED}), each with a line and a section`, () => {
    for (const r of rejected) {
      const [first] = r.diagnostics;
      expect(first?.line, `move of line ${eventLines[r.from]! + 1}`).toBeGreaterThanOrEqual(1);
      expect(first?.section).toMatch(/^\d+(\.\d+)?$/);
    }
    // A table for people: per event line, how many of its moves are rejected.
    const table = eventLines.map((line, from) => {
      const own = results.filter((r) => r.from === from);
      return { line: line + 1, event: (lines[line] ?? '').replace(/\s+#.*$/, '').slice(0, 60), moves: own.length, rejected: own.filter((r) => r.diagnostics.length > 0).length };
    });
    console.table(table);
    expect(rejected.length).toBeGreaterThanOrEqual(MIN_REJECTED);
  });

  it('moving REBIND above SUSPENDED is rejected at the REBIND line, citing §6.2', () => {
    const rebind = eventLines.findIndex((i) => / O ~> P REBIND /.test(lines[i] ?? ''));
    for (const target of [/ O <~ P SUSPENDED/, / P ~> O SUSPENDED /, / P <~ O SUSPEND\b/]) {
      const to = eventLines.findIndex((i) => target.test(lines[i] ?? ''));
      const { text, movedTo } = move(rebind, to);
      expect(text.split('\n')[movedTo - 1]).toMatch(/ O ~> P REBIND /);
      const [first] = check(text);
      expect(first, String(target)).toMatchObject({ code: 'TRACE_ORDER', section: '6.2', line: movedTo });
    }
  });
});
