// The ordering grammar (§7.4) on symbol strings, role by role: the orders the spec allows, the
// ones it forbids, where the parse stops, and the words a diagnostic uses.
import { describe, expect, it } from 'vitest';
import { checkSymbols, checkWords, describeSymbol, END_SYMBOL, explainViolation, isOrdered } from '../../../reference/trace/ordering.js';
import type { RoleSymbol } from '../../../reference/trace/project.js';
import type { Role } from '../../../reference/tables.js';

const words = (text: string) => text.split(/\s+/).filter(Boolean);
const accepts = (role: Role, text: string) => checkWords(role, words(text));

/** The index, found symbol and explanation of the first violation. */
function rejects(role: Role, text: string) {
  const list = words(text);
  const result = checkWords(role, list);
  expect(result.ok, `${role} must reject: ${text}`).toBe(false);
  const v = result.violation;
  if (v === undefined) throw new Error('no violation');
  return { ...v, ...explainViolation(role, list.slice(0, v.index), v.found, v.expected) };
}

describe('origin (§7.1)', () => {
  it('Fig. 9: SUSPEND, window B\'..D, SUSPENDED, copy, REBIND + ORDER, REBOUND, COMMIT (§6.2)', () => {
    expect(accepts('origin', '!HELLO ?HELLO ?DATA@C1 !DATA@C1 ?NEED !SUSPEND ?DATA@C1 !DATA@C1 ?SUSPENDED !COPY !COPY !COPIED !REBIND !ORDER ?REBOUND !COMMIT'))
      .toEqual({ ok: true, complete: true });
  });

  it('ORDER may go before REBIND, but not before the copy', () => {
    expect(accepts('origin', '@close !SUSPEND ?SUSPENDED !COPIED !ORDER !REBIND ?REBOUND !COMMIT').complete).toBe(true);
    expect(rejects('origin', '@close !SUSPEND ?SUSPENDED !ORDER')).toMatchObject({ index: 3, found: '!ORDER', expected: ['!COPIED', '!COPY'] });
  });

  it('the fast order: ORDER(fast), SUSPEND(fast), then silence on C1 (§6.3, §6.7)', () => {
    expect(accepts('origin', '@exit !ORDER.fast !SUSPEND.fast ?DATA@C1 ?SUSPENDED !COPIED ?REBOUND !COMMIT').complete).toBe(true);
    expect(rejects('origin', '@exit !ORDER.fast !SUSPEND.fast !DATA@C1')).toMatchObject({ index: 3, section: '6.7' });
    expect(rejects('origin', '@exit !SUSPEND.fast')).toMatchObject({ index: 1, section: '7.1' });
  });

  it('every trigger starts a handoff: T1, T2, and T3/T4 as NEED (§2.4)', () => {
    for (const trigger of ['@trigger.T1', '@trigger.T2', '@close', '@exit', '?NEED']) {
      expect(accepts('origin', `${trigger} !SUSPEND`).complete).toBe(true);
    }
    expect(rejects('origin', '?DATA@C1 !SUSPEND')).toMatchObject({ index: 1, section: '2.4' });
    expect(rejects('origin', '@trigger.T3 !SUSPEND')).toMatchObject({ index: 0 });
  });

  it('REBIND or the copy before SUSPENDED is rejected (§6.2, §6.5)', () => {
    expect(rejects('origin', '?NEED !SUSPEND !REBIND')).toMatchObject({ index: 2, reason: 'before it has received SUSPENDED', section: '6.2' });
    expect(rejects('origin', '?NEED !SUSPEND !COPY')).toMatchObject({ index: 2, section: '6.5' });
  });

  it('no second rebind: after REBOUND, triggers are ignored and SUSPEND is rejected (§6.6)', () => {
    const done = '?NEED !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER ?REBOUND !COMMIT';
    expect(accepts('origin', `${done} @close ?NEED @trigger.T2`).complete).toBe(true);
    expect(rejects('origin', `${done} ?NEED !SUSPEND`)).toMatchObject({ index: 9, section: '6.6' });
    expect(rejects('origin', `${done} !DATA@C1`)).toMatchObject({ index: 8, section: '6.7' });
  });

  it('COMMIT only after REBOUND or the loss of C1 (§6.6, §9.6)', () => {
    expect(rejects('origin', '?NEED !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER !COMMIT')).toMatchObject({ index: 6, section: '6.6' });
    expect(accepts('origin', '?NEED !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER @lost.C1 !COMMIT').complete).toBe(true);
    expect(accepts('origin', '?NEED !ORDER.fast !SUSPEND.fast @lost.C1 !COPY !COPIED !COMMIT').complete).toBe(true);
  });

  it('aborts (§9.2): the peer\'s ABORT resumes OPEN or fails the connection; timers lead to ABORTING', () => {
    expect(accepts('origin', '?NEED !SUSPEND ?ABORT !REVOKE ?DATA@C1 !DATA@C1 ?NEED !SUSPEND').complete).toBe(true);
    expect(accepts('origin', '@close !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER ?ABORT !REVOKE !ERROR@C1').complete).toBe(true);
    expect(accepts('origin', '@close !SUSPEND @timeout.SUSPEND !ABORT !DATA@C1 ?SUSPENDED ?ABORT !REVOKE').complete).toBe(true);
    expect(accepts('origin', '@close !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER @timeout.REBOUND !ABORT ?REBOUND !COMMIT').complete).toBe(true);
    expect(accepts('origin', '@close !SUSPEND @timeout.SUSPEND !ABORT @timeout.ABORT !REVOKE !ERROR@C1').complete).toBe(true);
    // After REBIND, ABORTING is silent on C1 (§6.7).
    expect(rejects('origin', '@close !SUSPEND ?SUSPENDED !COPIED !REBIND !ORDER @timeout.REBOUND !ABORT !DATA@C1')).toMatchObject({ index: 8, section: '6.7' });
    // A resumed origin needs a new trigger before a new handoff (§2.4).
    expect(rejects('origin', '?NEED !SUSPEND ?ABORT !REVOKE !SUSPEND')).toMatchObject({ index: 4, section: '2.4' });
  });

  it('lost channels (§9.4–9.6)', () => {
    expect(accepts('origin', '@lost.C1 !REVOKE').complete).toBe(true);
    expect(accepts('origin', '?NEED !SUSPEND @lost.L !ABORT ?ABORT !REVOKE').complete).toBe(true);
    expect(accepts('origin', '?NEED !SUSPEND @lost.C1 !REVOKE').complete).toBe(true);
  });
});

describe('successor (§7.2)', () => {
  it('Fig. 9: NEED, copy, ORDER, ATTACH → ATTACHED, C2 data held, COMMIT, then delivery (§6.2, §6.6)', () => {
    expect(accepts('successor', '@trigger.T3 !NEED ?COPY ?COPIED ?ORDER ?ATTACH !ATTACHED ?DATA@C2 !DATA@C2 ?COMMIT @recv').complete).toBe(true);
  });

  it('the fast order: ORDER(fast) first, ATTACH before the copy ends (§6.3)', () => {
    expect(accepts('successor', '?ORDER.fast ?COPY ?ATTACH !ATTACHED ?DATA@C2 ?COPY ?COPIED ?COMMIT').complete).toBe(true);
  });

  it('sends or receives on C2 only after ATTACHED (§6.7)', () => {
    expect(rejects('successor', '?ORDER.fast !DATA@C2')).toMatchObject({ index: 1, section: '6.7' });
    expect(rejects('successor', '?COPIED ?ORDER ?DATA@C2')).toMatchObject({ index: 2, section: '6.7' });
  });

  it('ATTACHED needs an armed ORDER (§8.2); in Fig. 9, ORDER comes after the copy (§6.2)', () => {
    expect(rejects('successor', '@trigger.T4 !NEED ?ATTACH !ATTACHED')).toMatchObject({ index: 3, section: '8.2' });
    expect(rejects('successor', '?ORDER')).toMatchObject({ index: 0 });
  });

  it('a wrong token is refused in any state and changes nothing (§8.3)', () => {
    expect(accepts('successor', '?ATTACH !REFUSE @trigger.T3 !NEED ?ATTACH !REFUSE ?COPIED ?ORDER ?ATTACH !REFUSE ?ATTACH !ATTACHED ?ATTACH !REFUSE ?COMMIT').complete).toBe(true);
  });

  it('nothing reaches the application before COMMIT (§6.6)', () => {
    expect(rejects('successor', '?COPIED ?ORDER ?ATTACH !ATTACHED @recv')).toMatchObject({ index: 4, section: '6.6' });
  });

  it('REVOKE, the origin\'s death and timers (§9.1–9.3)', () => {
    expect(accepts('successor', '@trigger.T3 !NEED ?COPY ?REVOKE').complete).toBe(true);
    expect(accepts('successor', '?COPIED ?ORDER ?ATTACH !ATTACHED ?REVOKE !ERROR@C2').complete).toBe(true);
    expect(accepts('successor', '?COPIED ?ORDER @lost.L ?ATTACH !ATTACHED @recv').complete).toBe(true);
    expect(accepts('successor', '?COPIED ?ORDER ?COMMIT ?ATTACH !ATTACHED @recv').complete).toBe(true);
    expect(accepts('successor', '?COPIED ?ORDER ?ATTACH !ATTACHED @lost.L @recv').complete).toBe(true);
    expect(accepts('successor', '?ORDER.fast ?ATTACH !ATTACHED @timeout.COPY !ERROR@C2').complete).toBe(true);
    expect(rejects('successor', '?COPIED ?ORDER ?ATTACH !ATTACHED @timeout.ARMED')).toMatchObject({ index: 4 });
  });

  it('a dormant handle closed before any trigger sends RELEASE (§9.7); NEED needs a trigger (§2.4)', () => {
    expect(accepts('successor', '@close !RELEASE').complete).toBe(true);
    expect(rejects('successor', '!NEED')).toMatchObject({ index: 0, section: '2.4' });
  });
});

describe('peer (§7.3)', () => {
  it('Fig. 9: SUSPEND → SUSPENDED, REBIND → ATTACH, ATTACHED → REBOUND (§6.2)', () => {
    expect(accepts('peer', '!HELLO ?HELLO !DATA@C1 ?SUSPEND !SUSPENDED ?DATA@C1 ?REBIND @connect.C2 !ATTACH ?ATTACHED !REBOUND ?ABORT @lost.C1').complete).toBe(true);
  });

  it('the fast order: SUSPENDED and ATTACH at once (§6.3); ABORT(CAPABILITY) without the offer (§6.1)', () => {
    expect(accepts('peer', '?SUSPEND.fast !SUSPENDED @connect.C2 !ATTACH ?ATTACHED !REBOUND').complete).toBe(true);
    expect(accepts('peer', '?SUSPEND.fast !ABORT !DATA@C1').complete).toBe(true);
  });

  it('no DATA on C1 after SUSPENDED, none on C2 before ATTACHED (§6.7)', () => {
    expect(rejects('peer', '?SUSPEND !SUSPENDED !DATA@C1')).toMatchObject({ index: 2, section: '6.7' });
    expect(rejects('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH !DATA@C2')).toMatchObject({ index: 4, section: '6.7' });
    expect(rejects('peer', '?SUSPEND !DATA@C1')).toMatchObject({ index: 1, section: '6.2' });
  });

  it('one REBOUND per handoff (§6.6)', () => {
    expect(rejects('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH ?ATTACHED !REBOUND !REBOUND')).toMatchObject({ index: 6, section: '6.6' });
    expect(rejects('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH !REBOUND')).toMatchObject({ index: 4, section: '6.6' });
  });

  it('ATTACH only after REBIND or SUSPEND(fast) (§6.2)', () => {
    expect(rejects('peer', '?SUSPEND !SUSPENDED !ATTACH')).toMatchObject({ index: 2, section: '6.2' });
  });

  it('aborts and resumption (§9.2, §8.3, §9.4)', () => {
    for (const failure of ['?REFUSE', '@fail.UNREACHABLE', '@lost.C2', '@timeout.ATTACH', '?ABORT', '?ERROR@C2']) {
      expect(accepts('peer', `?SUSPEND !SUSPENDED ?REBIND !ATTACH ${failure} !ABORT !DATA@C1 ?REBIND ?ABORT`).complete).toBe(true);
    }
    expect(accepts('peer', '?SUSPEND !SUSPENDED @timeout.REBIND !ABORT !DATA@C1').complete).toBe(true);
    expect(accepts('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH ?ATTACHED !ERROR@C2 !ABORT').complete).toBe(true);
  });

  it('C1 lost while attaching: complete alone, no REBOUND (§9.3)', () => {
    expect(accepts('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH @lost.C1 ?ATTACHED').complete).toBe(true);
    expect(rejects('peer', '?SUSPEND !SUSPENDED ?REBIND !ATTACH @lost.C1 ?ATTACHED !REBOUND')).toMatchObject({ index: 6 });
  });
});

describe('the checker\'s plumbing', () => {
  it('a projection cut short is a valid prefix, not a complete run', () => {
    expect(accepts('origin', '?NEED !SUSPEND ?SUSPENDED !COPY')).toEqual({ ok: true, complete: false });
    expect(accepts('peer', '')).toEqual({ ok: true, complete: true });
  });

  it('lists the expected symbols, with the end of the projection as <end>', () => {
    const v = checkWords('peer', words('?SUSPEND !SUSPENDED !DATA@C1')).violation;
    expect(v?.expected).toEqual([END_SYMBOL, '?ABORT', '?DATA@C1', '?ERROR@C1', '?FIN@C1', '?REBIND', '@lost.C1', '@timeout.REBIND']);
  });

  it('removes neutral actions before parsing and maps the violation back to the symbol', () => {
    const event = { line: 0, column: 1, actor: 'P', kind: 'action' as const, name: 'x', args: [], fields: {} };
    const symbols: RoleSymbol[] = ['@connect.C1', '?SUSPEND', '@send', '!SUSPENDED', '@recv', '!DATA@C1'].map((word, i) => ({ word, event: { ...event, line: i + 1 } }));
    const result = checkSymbols('peer', symbols);
    expect(result.violation?.index).toBe(5);
    expect(result.symbol?.event.line).toBe(6);
    expect(isOrdered('peer', '@send')).toBe(false);
    expect(isOrdered('successor', '@recv')).toBe(true);
    expect(isOrdered('origin', '!ANYTHING')).toBe(true);
  });

  it('describes symbols in words', () => {
    expect(describeSymbol('!DATA@C1')).toBe('sends DATA on C1');
    expect(describeSymbol('?SUSPEND.fast')).toBe('receives SUSPEND(fast)');
    expect(describeSymbol('@timeout.SUSPEND')).toBe('times out (SUSPEND timer)');
    expect(describeSymbol('@lost.L')).toBe('loses L');
    expect(describeSymbol('@trigger.T3')).toBe('sees trigger T3');
    expect(describeSymbol('@recv')).toBe('delivers data to its application');
    expect(describeSymbol(END_SYMBOL)).toBe('the end of the trace');
  });
});
