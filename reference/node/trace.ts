/**
 * Trace hooks (spec §13.1): every wire and local message a process sends or receives, and every
 * application action on a connection, as an event of the trace notation — for the conformance
 * kit and for debugging. Off by default; when off, the cost is one `undefined` check per event.
 *
 * Two ways to switch them on:
 * - {@link setTraceHook}: a function called with each {@link HostTraceEvent} of this process;
 * - the environment variable `REBIND_TRACE_DIR`: every process of the tree (forked children
 *   inherit the environment) appends the canonical lines of each connection to
 *   `DIR/<cid>.<pid>.trace`; {@link readTraceDirectory} merges them by time into one trace per
 *   connection that `checkTraceText` accepts.
 *
 * @module
 */
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatEvent } from '../trace/format.js';
import type { ActionName, FieldValue, TraceEvent } from '../trace/events.js';
import { messageToJson, type Message } from '../wire/index.js';

/** One traced event of one connection, as the hooks see it. */
export interface HostTraceEvent extends TraceEvent {
  /** The connection's cid in lower-case hex (32 digits), or `-` before the acceptor's HELLO fixed it. */
  readonly cid: string;
  /** The event in canonical notation (§13.1), with its `@TIME`. */
  readonly text: string;
}

/** A trace hook: called synchronously with each event of this process. */
export type TraceHook = (event: HostTraceEvent) => void;

let hook: TraceHook | undefined;
let directory: string | undefined = process.env.REBIND_TRACE_DIR !== undefined && process.env.REBIND_TRACE_DIR !== '' ? process.env.REBIND_TRACE_DIR : undefined;

/** Sets (or with `undefined` clears) this process's trace hook. Returns the previous one. */
export function setTraceHook(next: TraceHook | undefined): TraceHook | undefined {
  const previous = hook;
  hook = next;
  return previous;
}

/** Sets (or clears) the directory that receives per-connection trace files; default `REBIND_TRACE_DIR`. */
export function setTraceDirectory(path: string | undefined): void {
  directory = path;
}

/** Whether any trace sink is on: callers skip building events when it is not. */
export function tracing(): boolean {
  return hook !== undefined || directory !== undefined;
}

/** Milliseconds on a clock shared by the processes of one machine (wall clock, sub-ms precision). */
function now(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

const BYTE_FIELDS = new Set(['cid', 'token', 'data']);

/** A message's fields in the notation: flags and fields in the table's order, bytes as `0x…`. */
export function messageFields(message: Message): Record<string, FieldValue> {
  const json = messageToJson(message) as unknown as Record<string, unknown>;
  const fields: Record<string, FieldValue> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === 'type') continue;
    if (typeof value === 'boolean' || typeof value === 'number') fields[key] = value;
    else if (typeof value === 'string') {
      if (BYTE_FIELDS.has(key)) fields[key] = `0x${value}`;
      else if (/^\d+$/.test(value) && key !== 'addr' && key !== 'reason') {
        const n = Number(value);
        fields[key] = Number.isSafeInteger(n) ? n : value;
      } else fields[key] = value;
    }
  }
  return fields;
}

function emit(cid: string, event: Omit<TraceEvent, 'line' | 'column' | 'time'>, time?: number): void {
  const full: TraceEvent = { line: 0, column: 0, time: time === undefined ? now() : Math.round(time * 1000) / 1000, ...event };
  const text = formatEvent(full);
  if (hook !== undefined) hook({ ...full, cid, text });
  if (directory !== undefined) appendFileSync(join(directory, `${cid}.${process.pid}.trace`), `${text}\n`);
}

/** Traces a message: `send` (`A ~> B`) or `receive` (`A <~ B`, A the receiver). */
export function traceMessage(cid: string, kind: 'send' | 'receive', actor: string, peer: string, message: Message, time?: number): void {
  if (hook === undefined && directory === undefined) return;
  emit(cid, { actor, kind, peer, name: message.type, args: [], fields: messageFields(message) }, time);
}

/** Traces an application or environment action (`O close`, `P send len=5 data=0x…`, `O fork S1`). */
export function traceAction(cid: string, actor: string, name: ActionName, args: readonly string[] = [], fields: Record<string, FieldValue> = {}, time?: number): void {
  if (hook === undefined && directory === undefined) return;
  emit(cid, { actor, kind: 'action', name, args, fields }, time);
}

/** Bytes as the notation's hex literal. */
export function hexField(data: Uint8Array): string {
  return `0x${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}`;
}

/**
 * Reads a `REBIND_TRACE_DIR` directory: for each connection (cid), the lines of all its processes
 * merged into one trace text.
 *
 * The clocks of two processes agree only to a millisecond or so, so the merge does not trust them
 * alone: it keeps each process's own order, takes a receive (`A <~ B NAME`) only after the
 * matching send (`B ~> A`, FIFO per direction, §13.2) has been taken, and takes no event of a
 * forked process before its parent's `fork` line; among the events that may go next it takes the
 * earliest. (The origin writes `fork` when the child's JOIN names it, so that line can follow, in
 * the origin's file, events later than the fork itself.)
 */
export function readTraceDirectory(path: string): Map<string, string> {
  const byCid = new Map<string, string[][]>();
  for (const name of readdirSync(path)) {
    const match = /^([0-9a-f]{32}|-)\.(\d+)\.trace$/.exec(name);
    if (match === null) continue;
    const lines = readFileSync(join(path, name), 'utf8').split('\n').filter((line) => line !== '');
    const list = byCid.get(match[1]!) ?? [];
    list.push(lines);
    byCid.set(match[1]!, list);
  }
  const out = new Map<string, string>();
  for (const [cid, processes] of byCid) out.set(cid, mergeProcesses(processes).map((line) => `${line}\n`).join(''));
  return out;
}

const MESSAGE_LINE = /^@([0-9.]+) ([A-Za-z0-9]+) (~>|<~) ([A-Za-z0-9]+) /;
const FORK_LINE = /^@[0-9.]+ [A-Za-z0-9]+ fork ([A-Za-z0-9]+)$/;
const ACTOR = /^@[0-9.]+ ([A-Za-z0-9]+) /;

/** Merges per-process event lines (each list in its process's order) into one causal order. */
export function mergeProcesses(processes: readonly (readonly string[])[]): string[] {
  const heads = processes.map(() => 0);
  /** Sends taken and not yet received, per direction `FROM>TO`. */
  const inFlight = new Map<string, number>();
  const merged: string[] = [];
  const total = processes.reduce((n, p) => n + p.length, 0);
  /** Actors some process forks (`@t A fork B`), and those whose fork line has been taken. */
  const forked = new Set<string>();
  for (const lines of processes) for (const line of lines) {
    const fork = FORK_LINE.exec(line);
    if (fork !== null) forked.add(fork[1]!);
  }
  const forkTaken = new Set<string>();
  while (merged.length < total) {
    let best = -1;
    let bestTime = Number.POSITIVE_INFINITY;
    let fallback = -1;
    let fallbackTime = Number.POSITIVE_INFINITY;
    processes.forEach((lines, i) => {
      const line = lines[heads[i]!];
      if (line === undefined) return;
      const time = Number(/^@([0-9.]+)/.exec(line)?.[1] ?? 0);
      if (time < fallbackTime) [fallback, fallbackTime] = [i, time];
      const m = MESSAGE_LINE.exec(line);
      if (m !== null && m[3] === '<~' && (inFlight.get(`${m[4]}>${m[2]}`) ?? 0) === 0) return; // its send is not taken yet
      const actor = ACTOR.exec(line)?.[1];
      if (actor !== undefined && forked.has(actor) && !forkTaken.has(actor)) return; // not forked yet
      if (time < bestTime) [best, bestTime] = [i, time];
    });
    const pick = best >= 0 ? best : fallback; // a receive with no send at all: the checker will say so
    const line = processes[pick]![heads[pick]!]!;
    heads[pick]!++;
    const m = MESSAGE_LINE.exec(line);
    if (m !== null) {
      const key = m[3] === '~>' ? `${m[2]}>${m[4]}` : `${m[4]}>${m[2]}`;
      inFlight.set(key, (inFlight.get(key) ?? 0) + (m[3] === '~>' ? 1 : -1));
    }
    const fork = FORK_LINE.exec(line);
    if (fork !== null) forkTaken.add(fork[1]!);
    merged.push(line);
  }
  return merged;
}
