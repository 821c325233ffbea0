import { describe, expect, it } from 'vitest';
import messageTable from '../../spec/tables/messages.json' with { type: 'json' };
import stateTable from '../../spec/tables/states.json' with { type: 'json' };
import { ERRORS, isErrorName } from '../../reference/errors.js';
import { GUARDS, MESSAGES, MESSAGE_BY_NAME, MESSAGE_BY_TYPE, STATE_TABLES, TIMERS, defers, isDeferred, transitionsFor, type Role } from '../../reference/tables.js';
import { validateWith } from '../../reference/schemas.js';

const roles: Role[] = ['origin', 'successor', 'peer'];
const asList = (value: string | readonly string[]): readonly string[] => (typeof value === 'string' ? [value] : value);

describe('message table (§4, §5)', () => {
  it('validates against its schema', () => {
    expect(validateWith('urn:rebind:schema:message-table', messageTable).errors).toEqual([]);
  });

  it('types and names are unique; wire types are below 0x40, local ones from 0x40', () => {
    expect(MESSAGE_BY_NAME.size).toBe(MESSAGES.length);
    expect(MESSAGE_BY_TYPE.size).toBe(MESSAGES.length);
    for (const m of MESSAGES) expect(m.channel === 'local').toBe(m.type >= 0x40);
  });

  it('conditional fields name a flag of their message', () => {
    for (const m of MESSAGES) for (const f of m.fields) if (f.when) expect(Object.keys(m.flags)).toContain(f.when);
  });
});

describe('state tables (§7)', () => {
  it('validate against their schema', () => {
    expect(validateWith('urn:rebind:schema:state-tables', stateTable).errors).toEqual([]);
  });

  it('row ids are unique across roles', () => {
    const ids = roles.flatMap((r) => STATE_TABLES[r].transitions.map((t) => t.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const role of roles) {
    describe(role, () => {
      const table = STATE_TABLES[role];
      const states = Object.keys(table.states);

      it('every from/to/initial/terminal state is declared', () => {
        expect(states).toContain(table.initial);
        for (const s of table.terminal) expect(states).toContain(s);
        for (const t of table.transitions) {
          for (const s of asList(t.from)) expect(states, `${t.id} from ${s}`).toContain(s);
          if (t.to !== '=') expect(states, `${t.id} to ${t.to}`).toContain(t.to);
        }
      });

      it('every state is reachable from the initial one', () => {
        const seen = new Set([table.initial]);
        let grew = true;
        while (grew) {
          grew = false;
          for (const t of table.transitions) {
            if (t.to === '=' || seen.has(t.to)) continue;
            if (asList(t.from).some((s) => seen.has(s))) { seen.add(t.to); grew = true; }
          }
        }
        expect([...seen].sort()).toEqual([...states].sort());
      });

      it('events name real messages, timers and channels; actions name real messages, timers and errors', () => {
        for (const t of table.transitions) {
          for (const on of asList(t.on)) {
            const [kind, arg] = on.split(' ');
            if (kind === 'recv') expect(MESSAGE_BY_NAME.has(arg!), `${t.id}: ${on}`).toBe(true);
            else if (kind === 'timer') expect(TIMERS[arg!]?.role, `${t.id}: ${on}`).toBe(role);
            else if (kind === 'lost') expect(['C1', 'C2', 'L']).toContain(arg);
            else expect(['trigger', 'connect-failed', 'app'], `${t.id}: ${on}`).toContain(kind);
          }
          for (const action of t.do) {
            const match = /^(\w+)(?: (\w+)(?:\((\w+)\))?)?$/.exec(action.replace(/^check /, 'check '));
            expect(match, `${t.id}: ${action}`).not.toBeNull();
            const [, verb, arg, code] = match!;
            if (verb === 'send') expect(MESSAGE_BY_NAME.has(arg!), `${t.id}: ${action}`).toBe(true);
            if (verb === 'start' || verb === 'stop') expect(TIMERS[arg!]?.role, `${t.id}: ${action}`).toBe(role);
            if (verb === 'fail' || verb === 'check') expect(isErrorName(arg!), `${t.id}: ${action}`).toBe(true);
            if (code !== undefined) expect(ERRORS[code as keyof typeof ERRORS]?.wire, `${t.id}: ${action}`).toBe(true);
          }
        }
      });

      it('guards are declared', () => {
        for (const t of table.transitions) {
          for (const guard of (t.if ?? '').split('&').map((g) => g.trim()).filter(Boolean)) expect(GUARDS, `${t.id}: ${guard}`).toHaveProperty(guard);
        }
      });

      it('defer lists (SDL save, §7) name declared, non-terminal states and real messages; a deferred event has no row there', () => {
        for (const [state, events] of Object.entries(table.defer ?? {})) {
          expect(states, `defer ${state}`).toContain(state);
          expect(table.terminal, `defer ${state}`).not.toContain(state);
          for (const event of events) {
            const [kind, name] = event.split(' ');
            expect(kind, `defer ${state}: ${event}`).toBe('recv');
            expect(MESSAGE_BY_NAME.has(name!), `defer ${state}: ${event}`).toBe(true);
            expect(transitionsFor(role, state, event).map((t) => t.id), `defer ${state}: ${event}`).toEqual([]);
            expect(defers(table, state, event)).toBe(true);
            expect(isDeferred(role, state, event)).toBe(true);
          }
        }
      });

      it('every timer started in a state can fire there or is stopped on every way out', () => {
        // A waiting state must not hang: each state entered with "start X" has a "timer X" row.
        for (const t of table.transitions) {
          for (const action of t.do.filter((a) => a.startsWith('start '))) {
            const timer = action.slice('start '.length);
            const target = t.to;
            expect(transitionsFor(role, target, `timer ${timer}`).length, `${t.id}: ${timer} in ${target}`).toBeGreaterThan(0);
          }
        }
      });
    });
  }
});

describe('defer (§7, F1 of docs/model.md)', () => {
  it('the successor defers ATTACH in exactly the states where no ORDER is armed', () => {
    const deferring = Object.keys(STATE_TABLES.successor.states).filter((s) => isDeferred('successor', s, 'recv ATTACH'));
    expect(deferring).toEqual(['DORMANT', 'NEEDED', 'COPYING', 'COPIED']);
    expect(isDeferred('successor', 'ORDERED', 'recv ATTACH')).toBe(false);
    expect(isDeferred('origin', 'OPEN', 'recv ATTACH')).toBe(false);
  });

  it('O9 sends ORDER before REBIND (Fig. 9 step E): the token is armed before the peer can attach', () => {
    const o9 = STATE_TABLES.origin.transitions.find((t) => t.id === 'O9');
    expect(o9?.do.indexOf('send ORDER')).toBeLessThan(o9?.do.indexOf('send REBIND') ?? -1);
  });
});
