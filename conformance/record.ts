/**
 * `conformance record` (spec §13.3, §15): runs a small scenario against an implementation through
 * its adapter (§15.1), with the kit as the peer, and writes what happened as a new trace vector in
 * canonical form — a `result: valid` vector that `conformance check` and `conformance lint` accept.
 *
 * The trace is the case's artefact (the kit's peer's events merged with the implementation's
 * `trace` lines), made canonical: no `@TIME`, successors renamed `S`, `S2`, … in order of
 * appearance, each line as `formatEvent` writes it. A recording the trace checker rejects is not
 * written: it is a finding about the implementation (or the checker), and the diagnostics say why.
 *
 * @module
 */
import { checkTraceText } from '../reference/trace/check.js';
import { formatEvent } from '../reference/trace/format.js';
import { parseTraceOrThrow } from '../reference/trace/parse.js';
import type { TraceEvent } from '../reference/trace/events.js';
import type { Diagnostic } from '../reference/diagnostics.js';
import { formatFrontMatter, type TraceVectorMeta } from './vector-file.js';
import { CaseFailure, readBytes, recvBytes, runKit, type CaseContext, type KitCase, type RunOptions } from './run.js';

/** A scenario `record` can run: small payloads, so the vector stays readable. */
export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly sections: readonly string[];
  readonly needs?: readonly string[];
  run(ctx: CaseContext): Promise<void>;
}

function expectText(actual: Buffer, expected: string, what: string, section: string): void {
  if (actual.toString('latin1') !== expected) throw new CaseFailure(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual.toString('latin1'))}`, section);
}

/** Listen through the adapter, connect the kit's peer, say hello (§6.1). */
async function open(ctx: CaseContext, fast: boolean): Promise<{ handle: string; peer: Awaited<ReturnType<CaseContext['peer']>> }> {
  const origin = await ctx.process(0);
  await origin.ok('configure', { fast }, '15.1');
  const { addr } = await origin.ok('listen', { addr: 'tcp://127.0.0.1:0' }, '15.1');
  const peer = await ctx.peer(String(addr), { fast });
  const accepted = await origin.event((e) => e.event === 'accepted');
  return { handle: String(accepted.handle), peer };
}

/** A handoff to a forked child with trigger T1, T3 or T4 (§2.4), the peer writing during it (§6.5). */
function handoffScenario(trigger: 'T1' | 'T3' | 'T4', fast: boolean): Scenario {
  return {
    name: `${trigger.toLowerCase()}${fast ? '-fast' : ''}`,
    title: `${trigger} after fork in the ${fast ? 'fast' : 'Fig. 9'} order, the peer writing during the handoff`,
    sections: ['2.4', fast ? '6.3' : '6.2', '6.5', '6.6'],
    ...(fast ? { needs: ['fast'] } : {}),
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer } = await open(ctx, fast);
      peer.write('hello ');
      expectText(await recvBytes(origin, handle, 6, '6.4'), 'hello ', 'the origin read', '6.4');
      await origin.ok('fork', { handles: [handle] }, '2.3');
      const successor = await ctx.process(1);
      await successor.event((e) => e.event === 'inherited' && e.handle === handle);
      if (trigger === 'T4') await successor.ok('send', { handle, data: Buffer.from('successor here\n').toString('hex') }, '2.4');
      peer.write('during ');
      if (trigger === 'T1') await origin.ok('close', { handle }, '2.4');
      expectText(await recvBytes(successor, handle, 7, '6.5'), 'during ', 'the successor read', '6.5');
      if (trigger === 'T4') expectText(await readBytes(peer, 15), 'successor here\n', 'the peer read', '6.6');
      await successor.ok('send', { handle, data: Buffer.from('bye').toString('hex') }, '6.7');
      expectText(await readBytes(peer, 3), 'bye', 'the peer read', '6.6');
      await successor.ok('shutdown', { handle }, '9.7');
      await new Promise<void>((resolve) => (peer.readableEnded ? resolve() : (peer.once('end', () => resolve()), peer.resume())));
      peer.end();
      await successor.command('recv', { handle });
      // Let the last frames' trace lines reach the kit before the case ends.
      await new Promise((resolve) => setTimeout(resolve, 150));
    },
  };
}

/** The scenarios, by name. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'echo',
    title: 'HELLO exchange and a few bytes each way',
    sections: ['6.1', '4.2', '6.4'],
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer } = await open(ctx, false);
      peer.write('ping');
      expectText(await recvBytes(origin, handle, 4, '6.4'), 'ping', 'the origin read', '6.4');
      await origin.ok('send', { handle, data: Buffer.from('pong').toString('hex') }, '4.2');
      expectText(await readBytes(peer, 4), 'pong', 'the peer read', '6.4');
      await new Promise((resolve) => setTimeout(resolve, 150));
    },
  },
  handoffScenario('T1', false),
  handoffScenario('T3', false),
  handoffScenario('T4', false),
  handoffScenario('T1', true),
  handoffScenario('T3', true),
];

/** What `record` was asked for. */
export interface RecordOptions extends Pick<RunOptions, 'impl' | 'timeout'> {
  readonly scenario: string;
  /** Front matter: id (dotted), title, sections, level, comment; defaults from the scenario. */
  readonly meta: Partial<Pick<TraceVectorMeta, 'title' | 'sections' | 'level' | 'comment'>> & Pick<TraceVectorMeta, 'id'>;
}

/** The outcome: the vector's text, or why there is none. */
export type Recording =
  | { readonly ok: true; readonly text: string; readonly events: number }
  | { readonly ok: false; readonly reason: string; readonly diagnostics?: readonly Diagnostic[]; readonly trace?: string };

/**
 * Makes a merged trace canonical for a vector (§13.3): no times, successors `S`, `S2`, … by first
 * appearance (the origin `O` and the peer `P` keep their names).
 */
export function canonicalRecording(lines: readonly string[]): string {
  const events = parseTraceOrThrow(lines.join('\n'));
  const names = new Map<string, string>();
  const rename = (actor: string): string => {
    if (actor === 'O' || actor === 'P') return actor;
    let name = names.get(actor);
    if (name === undefined) {
      name = names.size === 0 ? 'S' : `S${names.size + 1}`;
      names.set(actor, name);
    }
    return name;
  };
  return events
    .map((e): TraceEvent => {
      const { time: _time, comment: _comment, fieldColumns: _columns, ...rest } = e;
      return { ...rest, actor: rename(e.actor), ...(e.peer !== undefined ? { peer: rename(e.peer) } : {}), args: e.kind === 'action' && ['fork', 'connect', 'accept', 'join'].includes(e.name) ? e.args.map(rename) : e.args };
    })
    .map((e) => `${formatEvent(e)}\n`)
    .join('');
}

/** Runs the scenario and returns the vector (front matter + canonical trace), or why not. */
export async function record(options: RecordOptions): Promise<Recording> {
  const scenario = SCENARIOS.find((s) => s.name === options.scenario);
  if (scenario === undefined) return { ok: false, reason: `no scenario "${options.scenario}"; one of ${SCENARIOS.map((s) => s.name).join(', ')}` };
  const kitCase: KitCase = { id: `record.${scenario.name}`, title: scenario.title, sections: scenario.sections, level: 'MUST', ...(scenario.needs !== undefined ? { needs: scenario.needs } : {}), run: (ctx) => scenario.run(ctx) };
  const [result] = await runKit({ impl: options.impl, cases: [kitCase], ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) });
  if (result!.verdict !== 'pass') return { ok: false, reason: `the scenario did not pass (${result!.verdict}): ${result!.message ?? ''}`.trim() };
  if (!result!.trace.some((line) => !/^@[0-9.]+ P /.test(line))) return { ok: false, reason: 'the implementation sent no trace lines (§15.1): record needs them' };
  let body: string;
  try {
    body = canonicalRecording(result!.trace);
  } catch (error) {
    return { ok: false, reason: `the implementation's trace lines do not parse (§13.1): ${error instanceof Error ? error.message : String(error)}`, trace: result!.trace.join('\n') };
  }
  const diagnostics = checkTraceText(body);
  if (diagnostics.length > 0) return { ok: false, reason: 'the trace checker rejects the recording (§13.2)', diagnostics, trace: body };
  const meta: TraceVectorMeta = {
    id: options.meta.id,
    title: options.meta.title ?? scenario.title,
    sections: options.meta.sections ?? scenario.sections,
    level: options.meta.level ?? 'MUST',
    result: 'valid',
    comment: options.meta.comment ?? `Recorded from ${options.impl === 'reference' ? 'the reference implementation' : options.impl} by \`conformance record --scenario ${scenario.name}\`.`,
  };
  return { ok: true, text: formatFrontMatter(meta) + body, events: body.split('\n').length - 1 };
}
