/**
 * What the three fault fixtures (origin, successor, peer) share: the short timers (§9.1), the
 * byte pattern both directions carry, the report file the test reads, and the kill hook that makes
 * a process die of SIGKILL at one protocol step (§9.3–§9.5: sudden death sends nothing).
 *
 * Every process appends one JSON line per event to `FAULT_REPORT` with `appendFileSync`, so a
 * line written just before a SIGKILL is never lost.
 */
import { appendFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { configure, setTraceHook, type HostTraceEvent } from '../../../../reference/index.js';

/** The short timers of every process of these tests (§9.1); the relations of §9.1 hold. */
export const SHORT_TIMERS: Readonly<Record<string, number>> = {
  SUSPEND: 300, REBOUND: 600, ABORT: 300, REBIND: 600, ATTACH: 300, ARMED: 1500, COPY: 600, COMMIT: 1500, NEED: 1500,
};

/** The roles of a handoff (§2.1). */
export type Role = 'O' | 'S' | 'P';

/** A step to die at: right at an event (a message received or about to be sent), or just after it. */
export interface KillStep {
  readonly kind: 'send' | 'receive';
  readonly name: string;
  /**
   * `now`: SIGKILL inside the hook (a received message is not acted on; a message about to be sent
   * never leaves, while what the same input sent before it is out: the transports write
   * synchronously). `after`: once the current input has been handled (a microtask), before any
   * further input is read.
   */
  readonly when: 'now' | 'after';
}

/** The environment variable with role `role`'s kill step (`kind:NAME:when`). */
export function killVariable(role: Role): string {
  return `FAULT_KILL_${role}`;
}

export function formatKillStep(step: KillStep): string {
  return `${step.kind}:${step.name}:${step.when}`;
}

function parseKillStep(text: string | undefined): KillStep | undefined {
  if (text === undefined || text === '') return undefined;
  const [kind, name, when] = text.split(':');
  if ((kind !== 'send' && kind !== 'receive') || name === undefined || (when !== 'now' && when !== 'after')) {
    throw new Error(`bad kill step "${text}"`);
  }
  return { kind, name, when };
}

/** Byte `i` of both streams: a 32-bit mix of the word index, so a shifted or repeated run never matches. */
function word(index: number): number {
  let x = (index + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Bytes `[offset, offset + length)` of the pattern. */
export function pattern(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const at = offset + i;
    out[i] = (word(at >>> 2) >>> ((at & 3) * 8)) & 0xff;
  }
  return out;
}

/** Whether `data` is the pattern at `offset` (byte-exact). */
export function matchesPattern(data: Uint8Array, offset: number): boolean {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(pattern(offset, data.length));
}

/** SHA-256 (hex) of the pattern's `[offset, offset + length)`. */
export function patternDigest(offset: number, length: number): string {
  return createHash('sha256').update(pattern(offset, length)).digest('hex');
}

/** One line of the report. */
export interface ReportLine {
  readonly role: Role;
  readonly pid: number;
  readonly ev: string;
  readonly t: number;
  readonly [key: string]: unknown;
}

/** Appends one line to the report file (synchronously: it survives a SIGKILL that follows). */
export function report(role: Role, ev: string, fields: Record<string, unknown> = {}): void {
  const file = process.env.FAULT_REPORT;
  if (file === undefined) return;
  appendFileSync(file, `${JSON.stringify({ role, pid: process.pid, ev, t: Date.now(), ...fields })}\n`);
}

/** The error code of a failure: a RebindError's `ERR_…`, or the constructor name of anything else. */
export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : `untyped:${(error as Error | undefined)?.name ?? String(error)}: ${(error as Error | undefined)?.message ?? ''}`;
}

/**
 * Sets this process's timers (§9.1) and trace hook: every protocol event but DATA goes to the
 * report (for diagnostics), and at this role's kill step (FAULT_KILL_<role>) the process SIGKILLs
 * itself.
 */
export function setUp(role: Role, options: { fast?: boolean } = {}): void {
  configure({ timers: { ...SHORT_TIMERS }, ...(options.fast !== undefined ? { fast: options.fast } : {}) });
  // No fixture outlives a test that forgot it: the test kills it long before this.
  setTimeout(() => process.exit(70), 60_000);
  const step = parseKillStep(process.env[killVariable(role)]);
  // With a hook every DATA event is formatted (hex of its bytes): FAULT_TRACE=0 leaves tracing off for bulk transfers.
  if (step === undefined && process.env.FAULT_TRACE === '0') return;
  let dying = false;
  setTraceHook((event: HostTraceEvent) => {
    if (event.name === 'DATA' || event.name === 'send' || event.name === 'recv') return;
    report(role, 'trace', { text: event.text.replace(/ (token|data|cid)=0x[0-9a-f]+/g, '') });
    if (step === undefined || dying || event.kind !== step.kind || event.name !== step.name) return;
    dying = true;
    report(role, 'killed', { step: formatKillStep(step) });
    if (step.when === 'now') process.kill(process.pid, 'SIGKILL');
    else queueMicrotask(() => process.kill(process.pid, 'SIGKILL'));
  });
}
