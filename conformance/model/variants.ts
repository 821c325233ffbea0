/**
 * Variants of the state tables the model can be run on: the protocol without SUSPEND (Fig. 8,
 * Appendix B) and deliberately broken tables that the tests use to show the checker bites.
 *
 * @module
 */
import { STATE_TABLES, type Role, type RoleTable, type Transition } from '../../reference/tables.js';

type Tables = Readonly<Record<Role, RoleTable>>;

function withTransitions(t: RoleTable, transitions: Transition[]): RoleTable {
  return { ...t, transitions };
}

/**
 * The protocol with SUSPEND taken out (Fig. 8, Appendix B): on a trigger the origin copies at once
 * and sends REBIND (and ORDER) without waiting for SUSPENDED; it still receives DATA on C1 until it
 * closes C1; the peer keeps sending on C1 until REBIND arrives. Only the stop-and-wait order exists.
 * The offsets that make the §6.4 checks possible come with SUSPENDED, so the checker runs this
 * variant without the STREAM_GAP check (ModelOptions.noSuspend).
 */
export function noSuspendTables(base: Tables = STATE_TABLES): Tables {
  const origin = base.origin.transitions.flatMap((r): Transition[] => {
    const triggered = r.from === 'OPEN' && (r.on === 'trigger' || r.on === 'recv NEED');
    if (!triggered) return [r];
    if (r.if === 'fast') return [];
    return [{ ...r, do: ['copy', 'send REBIND', 'send ORDER', 'start REBOUND'], to: 'AWAIT_REBOUND', section: 'B' }];
  });
  origin.push({ id: 'B1', from: 'AWAIT_REBOUND', on: 'recv DATA', do: ['accept'], to: 'AWAIT_REBOUND', section: 'B' });
  // The peer answers REBIND in OPEN (it was never suspended); this replaces any row that ignores it.
  const peer = [
    ...base.peer.transitions.filter((r) => !(r.from === 'OPEN' && r.on === 'recv REBIND')),
    { id: 'B2', from: 'OPEN', on: 'recv REBIND', do: ['connect C2', 'send ATTACH', 'start ATTACH'], to: 'ATTACHING', section: 'B' },
  ];
  return { origin: withTransitions(base.origin, origin), successor: base.successor, peer: withTransitions(base.peer, peer) };
}

/**
 * A broken table: the successor delivers what it holds as soon as it accepts ATTACH, instead of
 * waiting for COMMIT (§6.6). The checker must find a duplicate.
 */
export function deliverOnAttachTables(base: Tables = STATE_TABLES): Tables {
  const successor = base.successor.transitions.map((r) =>
    r.id === 'S11' ? { ...r, do: [...r.do.filter((a) => a !== 'start COMMIT'), 'deliver', 'start COMMIT'] } : r,
  );
  return { ...base, successor: withTransitions(base.successor, successor) };
}

/** Replaces rows by id (tests use it to break one rule at a time). */
export function replaceRows(base: Tables, role: Role, rows: readonly Transition[]): Tables {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const transitions = base[role].transitions.map((r) => byId.get(r.id) ?? r);
  return { ...base, [role]: withTransitions(base[role], transitions) };
}
