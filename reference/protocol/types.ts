/**
 * Inputs and effects of the sans-IO protocol engines (spec §6, §7, §9): an engine is a pure state
 * machine for one connection in one role. The host feeds it inputs (messages, triggers, timer
 * expiries, lost channels, application calls) and carries out the effects it returns (send a
 * frame, deliver bytes, start a timer...). Engines own no socket, no timer and no clock.
 *
 * @module
 */
import type { RebindError } from '../errors.js';
import type { Role } from '../tables.js';
import type { Message } from '../wire/messages.js';

/** A channel of §2.1: C1 origin–peer, C2 successor–peer, L origin–successor. */
export type Channel = 'C1' | 'C2' | 'L';

/**
 * What the host tells an engine. `link` names one of several transport connections on the same
 * channel: a successor's rebind listener may have several C2s at once (the real peer and a
 * stranger, §8.3); the engine echoes it on the `send`/`close` effects that answer that C2.
 */
export type Input =
  | { readonly kind: 'recv'; readonly channel: Channel; readonly message: Message; readonly link?: string }
  | { readonly kind: 'trigger'; readonly trigger: 'T1' | 'T2' | 'T3' | 'T4' }
  | { readonly kind: 'timer'; readonly timer: string }
  | { readonly kind: 'lost'; readonly channel: Channel; readonly link?: string }
  /** §3.4: the other end sent a frame that does not decode; the transport sent ERROR and closed. */
  | { readonly kind: 'malformed'; readonly channel: Channel; readonly error: RebindError; readonly link?: string }
  | { readonly kind: 'connect-failed' }
  | { readonly kind: 'connected' }
  | { readonly kind: 'app-write'; readonly data: Uint8Array }
  | { readonly kind: 'app-read'; readonly max?: number }
  | { readonly kind: 'app-shutdown' }
  | { readonly kind: 'app-close' };

/**
 * What an engine asks the host to do, in order.
 *
 * `switch` (an addition to the brief's list): the handoff committed for this role and the
 * connection now runs on what was C2; from the next input on, the engine calls that connection
 * `C1` (§7.3: "C2 is the next handoff's C1"; §10.1). The old C1 (peer) or L (successor) is
 * retired: the host ignores what still arrives on it (§6.6, §7.5) and lets the origin close it.
 */
export type Effect =
  | { readonly kind: 'send'; readonly channel: Channel; readonly message: Message; readonly link?: string }
  | { readonly kind: 'deliver'; readonly data: Uint8Array }
  | { readonly kind: 'end' }
  | { readonly kind: 'start-timer'; readonly timer: string; readonly ms: number }
  | { readonly kind: 'stop-timer'; readonly timer: string }
  | { readonly kind: 'connect'; readonly addr: string }
  | { readonly kind: 'close'; readonly channel: Channel; readonly link?: string }
  | { readonly kind: 'fail'; readonly error: RebindError }
  | { readonly kind: 'transition'; readonly role: Role; readonly from: string; readonly to: string; readonly row: string }
  | { readonly kind: 'writable' }
  | { readonly kind: 'switch' };

/** Configuration shared by the three engines. */
export interface EngineConfig {
  /** The connection id (§2.2): 16 bytes, never all zero. */
  readonly cid: Uint8Array;
  /** Both HELLOs carried `fast` (§6.1): the origin may choose the fast order. */
  readonly fast?: boolean;
  /** This end offered `fast` in its HELLO (peer guard `offerFast`, §6.1). Default: `fast`. */
  readonly offerFast?: boolean;
  /** The next hid this end's side uses when it starts a handoff (§2.2). Default 1. */
  readonly hid?: number;
  /** Timer durations in ms by name (§9.1); missing ones take the TIMERS defaults. */
  readonly timers?: Readonly<Record<string, number>>;
  /** The largest DATA/COPY payload to send (§3.3). Default 1048576 − 12. */
  readonly maxPayload?: number;
  /** Token generator (§8.1). Default `crypto.randomBytes(16)`; injectable for tests. */
  readonly token?: () => Uint8Array;
  /** Origin: the successor's rebind listener (§5.1); without it (and without JOIN) T1/T2 are ordinary closes. */
  readonly addr?: string;
  /** Offsets where the two directions of the stream stand when this engine starts (§10.1). */
  readonly offsets?: { readonly send: bigint; readonly recv: bigint };
}
