import { describe, expect, it } from 'vitest';
import { check, type CheckResult } from '../../../conformance/model/checker.js';
import { DEFAULT_OPTIONS, type ModelOptions } from '../../../conformance/model/model.js';
import { deliverOnAttachTables, noSuspendTables, replaceRows } from '../../../conformance/model/variants.js';
import { STATE_TABLES, type Role, type RoleTable, type Transition } from '../../../reference/tables.js';

type Tables = Readonly<Record<Role, RoleTable>>;

/** A small bound: no data, no failures, no stranger, no release; timers fire. Under a second. */
const TINY: ModelOptions = { ...DEFAULT_OPTIONS, data: 0, failures: 0, stranger: false, release: false };

const defects = (r: CheckResult): string[] =>
  r.findings.filter((f) => f.finding.kind === 'unexpected' || f.finding.kind === 'ambiguous').map((f) => `${f.finding.kind} ${f.finding.role} ${f.finding.state} ${f.finding.event}`);

/** The tables without the rows `ids` (to show what each fix of states.json prevents). */
function without(ids: readonly string[], base: Tables = STATE_TABLES): Tables {
  const drop = (t: RoleTable): RoleTable => ({ ...t, transitions: t.transitions.filter((r) => !ids.includes(r.id)) });
  return { origin: drop(base.origin), successor: drop(base.successor), peer: drop(base.peer) };
}

function row(role: Role, id: string): Transition {
  const r = STATE_TABLES[role].transitions.find((t) => t.id === id);
  if (r === undefined) throw new Error(`no row ${id}`);
  return r;
}

describe('the spec as written (§7 tables)', () => {
  it('passes every invariant at the tiny bound, and the state count is stable', () => {
    const r = check(TINY);
    expect(r.violations).toEqual([]);
    expect(defects(r)).toEqual([]);
    expect(r.acyclic).toBe(true);
    expect(r.truncated).toBe(false);
    // Exact figures: a change of the tables or of the model shows up here (docs/model.md).
    expect([r.states, r.transitions, r.finalStates, r.runs]).toEqual([6934, 19595, 373, 53615587n]);
  });

  it('passes every invariant with a kill or a cut of C1/C2 (fast order, no data)', () => {
    const r = check({ ...TINY, failures: 1, orders: ['fast'] });
    expect(r.violations).toEqual([]);
    expect(defects(r)).toEqual([]);
    expect(r.states).toBe(32109);
  });

  it('F1 (liveness): an ATTACH that overtakes ORDER is deferred (states.json "defer"); without the defer lists it is refused', () => {
    const calm = (r: CheckResult) => r.findings.filter((f) => f.finding.kind === 'calm-abort');
    const fixed = check({ ...TINY, timers: false });
    expect(calm(fixed)).toEqual([]);
    expect(fixed.violations).toEqual([]);
    // Revert the fix: no defer lists, and S12 refuses in the unarmed states again.
    const s12 = row('successor', 'S12');
    const from = [...(typeof s12.from === 'string' ? [s12.from] : s12.from), 'DORMANT', 'NEEDED', 'COPYING', 'COPIED'];
    const reverted = replaceRows({ ...STATE_TABLES, successor: { ...STATE_TABLES.successor, defer: {} } }, 'successor', [{ ...s12, from }]);
    const r = check({ ...TINY, timers: false, tables: reverted });
    expect(calm(r).length).toBeGreaterThan(0);
    const trace = calm(r)[0]?.trace.join('\n') ?? '';
    // The successor refuses the genuine ATTACH because ORDER is still on L.
    expect(trace.indexOf('S <~ P ATTACH')).toBeLessThan(trace.indexOf('S <~ O ORDER'));
    expect(trace).toContain('REFUSE');
  });
});

describe('row coverage: the model takes every row of states.json (so the tables and the model cannot drift apart)', () => {
  it('every row is taken at some small bound, except the rows that are dead by design', () => {
    const bounds: ModelOptions[] = [
      { ...TINY, stranger: true, release: true },
      { ...TINY, failures: 1, orders: ['fast'] },
      { ...TINY, failures: 1, orders: ['fig9'] },
      { ...TINY, data: 1, orders: ['fig9'] },
      { ...TINY, data: 1, failures: 1, orders: ['fast'], successorTrigger: false },
    ];
    const taken = new Set<string>();
    for (const b of bounds) for (const id of check(b).rowsTaken) taken.add(id);
    const all = (['origin', 'successor', 'peer'] as const).flatMap((role) => STATE_TABLES[role].transitions.map((t) => t.id));
    // O11/O12: the peer sends ABORT only after SUSPENDED (P8, P9), which moves the origin out of
    // SUSPENDING first (FIFO C1); O18/O19 and P21: only a peer that did not offer fast answers
    // SUSPEND(fast) with ABORT, and the origin chooses fast only when both offered (§6.1); P22: ATTACHED
    // never disagrees with ATTACH in a correct run; S5: needs two unread bytes (--data 2). O43: a NEED
    // from a stale fork needs a second successor. O44, S34: the peer sends ERROR only in P22 (dead) or
    // under §7.5, which a correct run never reaches.
    expect(all.filter((id) => !taken.has(id)).sort()).toEqual(['O11', 'O12', 'O18', 'O19', 'O43', 'O44', 'P21', 'P22', 'S34', 'S5']);
  });
});

describe('Fig. 8 (Appendix B): without SUSPEND', () => {
  const noSuspend: ModelOptions = { ...TINY, data: 1, noSuspend: true, offsetChecks: false, orders: ['fig9'], tables: noSuspendTables() };

  it('the checker finds a run that loses data, and its shortest trace shows the byte reaching the origin after the copy', () => {
    const r = check(noSuspend);
    const loss = r.violations.find((v) => v.message.startsWith('data incomplete') || v.message.startsWith('exactly-once'));
    expect(loss).toBeDefined();
    const trace = loss?.trace ?? [];
    expect(trace.some((l) => l.includes('after its copy'))).toBe(true);
    expect(trace).toContain('P ~> O DATA offset=0 data=0x41');
    expect(trace.some((l) => l.startsWith('O ~> P SUSPEND'))).toBe(false);
  });

  it('with the §6.4 offset checks kept, no byte is lost: the offsets alone keep it safe (the handoff fails instead)', () => {
    const r = check({ ...noSuspend, offsetChecks: true });
    expect(r.violations).toEqual([]);
  });
});

describe('deliberately broken tables are caught', () => {
  it('successor delivers on ATTACH instead of COMMIT (§6.6): a duplicate', () => {
    const r = check({ ...TINY, data: 1, orders: ['fig9'], tables: deliverOnAttachTables() });
    expect(r.violations.map((v) => v.message).some((m) => m.includes('a duplicate'))).toBe(true);
  });

  it('a REBOUND row that does not stop the origin (O22 resumes instead): two owners', () => {
    const o22 = row('origin', 'O22');
    const tables = replaceRows(STATE_TABLES, 'origin', [{ ...o22, do: ['stop REBOUND', 'send COMMIT'], to: 'OPEN' }]);
    const r = check({ ...TINY, data: 1, orders: ['fig9'], originTrigger: false, tables });
    expect(r.violations.map((v) => v.message).some((m) => m.startsWith('two owners'))).toBe(true);
  });

  it('O37 starting a handoff (a trigger after the commit sends SUSPEND): a second rebind', () => {
    const o37 = row('origin', 'O37');
    const tables = replaceRows(STATE_TABLES, 'origin', [{ ...o37, do: ['send SUSPEND', 'start SUSPEND'] }]);
    const r = check({ ...TINY, orders: ['fig9'], tables });
    expect(r.violations.map((v) => v.message).some((m) => m.startsWith('second rebind'))).toBe(true);
  });

  it('S11 without its tokenOk guard (§8.2): the stranger attaches', () => {
    const s11 = { ...row('successor', 'S11') };
    delete (s11 as { if?: string }).if;
    const tables = replaceRows(STATE_TABLES, 'successor', [s11]);
    const r = check({ ...TINY, stranger: true, orders: ['fig9'], tables });
    expect(r.violations.map((v) => v.message).some((m) => m.startsWith('wrong token attached'))).toBe(true);
  });
});

// One regression test per flaw the checker found in states.json (docs/model.md, "Findings").
describe('the fixes of states.json, each reverted, bring their counterexample back', () => {
  it('F2 O40/O41: NEED (T3/T4) crossing the origin\'s own T1 failed the connection (§6.6)', () => {
    expect(defects(check({ ...TINY, tables: without(['O40', 'O41']) }))).toContain('unexpected origin SUSPENDING recv NEED');
  });

  it('F3 P23: a REBIND crossing the peer\'s REBIND-timer ABORT failed the connection (§9.2)', () => {
    expect(defects(check({ ...TINY, orders: ['fig9'], tables: without(['P23']) }))).toContain('unexpected peer OPEN recv REBIND');
  });

  it('F4 O31/O39: fast order, the origin\'s SUSPEND timer fired, the peer committed anyway: COMMIT without the copy (§6.3)', () => {
    const o31 = { ...row('origin', 'O31') };
    delete (o31 as { if?: string }).if;
    const tables = replaceRows(without(['O39']), 'origin', [o31]);
    expect(defects(check({ ...TINY, orders: ['fast'], tables }))).toContain('unexpected successor ATTACHED_COPYING recv COMMIT');
  });

  it('F5 O42: RELEASE (§5.8) had no row at the origin', () => {
    expect(defects(check({ ...TINY, release: true, tables: without(['O42']) }))).toContain('unexpected origin OPEN recv RELEASE');
  });

  it('F6 P24: ERROR(ABORTED) after an aborted T1 handoff had no row at the peer (§9.2)', () => {
    expect(defects(check({ ...TINY, orders: ['fig9'], tables: without(['P24']) }))).toContain('unexpected peer OPEN recv ERROR');
  });

  it('F7 S30: COMMIT after C1 was lost (O20/O26) reached a READY successor with no row (§9.6)', () => {
    const r = check({ ...TINY, failures: 1, orders: ['fast'], tables: without(['S30']) });
    expect(defects(r)).toContain('unexpected successor READY recv COMMIT');
  });

  it('F8 S11: READY_ALONE matched both S11 and S22 (§9.3)', () => {
    const s11 = row('successor', 'S11');
    const tables = replaceRows(STATE_TABLES, 'successor', [{ ...s11, from: ['READY', 'READY_ALONE'] }]);
    expect(defects(check({ ...TINY, failures: 1, orders: ['fast'], tables }))).toContain('ambiguous successor READY_ALONE recv ATTACH');
  });
});

describe('reported, not fixed in the tables', () => {
  it('F10: when L fails while both ends live (--cut-local), S24 makes the successor owner while the origin resumes', () => {
    const r = check({ ...TINY, failures: 1, cutLocal: true, orders: ['fast'] });
    const v = r.violations.find((x) => x.message.startsWith('two owners'));
    expect(v).toBeDefined();
    // The peer's ATTACH timer aborted, the origin resumed, then L was cut before REVOKE arrived.
    expect(v?.trace).toContain('P timeout ATTACH');
    expect(v?.trace).toContain('O resume');
    expect(v?.trace).toContain('O cut S');
  });
});
