/**
 * The explicit-state checker: breadth-first search over every interleaving of the model
 * (conformance/model/model.ts) with a visited set of canonical state keys. BFS reaches every state
 * by a shortest run, so the first counterexample found for an invariant is a shortest one.
 * No partial-order reduction: every interleaving is explored (docs/model.md says why).
 *
 * @module
 */
import {
  classifyEnd, enabledEvents, initialStates, isOptional, prologue, step,
  type Finding, type ModelEvent, type ModelOptions, type Outcome, type StepLog, type TraceLabels,
} from './model.js';
import { stateKey, type ModelState } from './state.js';

/** A broken invariant with its shortest run. */
export interface Violation {
  readonly message: string;
  /** The run in the trace notation (§13.1). */
  readonly trace: string[];
  /** Steps from the initial state. */
  readonly depth: number;
}

/** A table silence or ambiguity, with how often it was met and a shortest run to it. */
export interface FindingReport {
  readonly finding: Finding | { kind: 'calm-abort'; role: 'peer'; state: string; event: string };
  readonly count: number;
  readonly trace: string[];
  readonly depth: number;
}

/** One kind of end of a run. */
export interface OutcomeReport {
  readonly outcome: Outcome;
  readonly order: 'fig9' | 'fast';
  /** Which triggers happened: origin (T1/T2), successor (T3/T4), both, none. */
  readonly triggers: 'origin' | 'successor' | 'both' | 'none';
  /** Final states with this outcome. */
  readonly states: number;
  /** Id of the first (shortest) final state, for {@link traceTo}. */
  readonly sample: number;
  /** Ids of the first final states with this outcome, shortest first (at most {@link CANDIDATES}). */
  readonly candidates: readonly number[];
  readonly depth: number;
}

/** What a check found. */
export interface CheckResult {
  readonly options: ModelOptions;
  readonly states: number;
  readonly transitions: number;
  /** States where only the environment (kills, cuts) could still act: the ends of runs. */
  readonly finalStates: number;
  /** Distinct runs from an initial state to an end (the state graph is acyclic). */
  readonly runs: bigint;
  /** Whether the state graph has no cycle (no livelock is possible within the bound). */
  readonly acyclic: boolean;
  readonly maxDepth: number;
  readonly violations: Violation[];
  readonly findings: FindingReport[];
  readonly outcomes: OutcomeReport[];
  /** Table rows taken at least once, by id (row coverage: a row never taken is dead at this bound). */
  readonly rowsTaken: ReadonlySet<string>;
  /** The search stopped at maxStates. */
  readonly truncated: boolean;
  readonly ms: number;
}

/** Final states remembered per outcome (vectors pick the first whose run suits them). */
export const CANDIDATES = 64;

/** Limits of one search. */
export interface SearchLimits {
  /** Stop after this many states (a safety net; the result says `truncated`). */
  readonly maxStates?: number;
  /** Distinct violation messages to keep (BFS keeps the shortest run of each). */
  readonly maxViolations?: number;
}

/** The search graph, kept to rebuild runs and to count them. */
export interface Graph {
  readonly parent: number[];
  readonly parentEvent: number[];
  readonly depth: number[];
  /** Successors of state i are edges[edgeStart[i] .. edgeStart[i+1]). -1 start: not expanded. */
  readonly edgeStart: number[];
  readonly edges: number[];
  readonly initial: ModelState[];
}

/** Runs the search. */
export function check(opt: ModelOptions, limits: SearchLimits = {}): CheckResult & { graph: Graph } {
  const t0 = Date.now();
  const maxStates = limits.maxStates ?? 5_000_000;
  const maxViolations = limits.maxViolations ?? 20;
  const initial = initialStates(opt);
  const ids = new Map<string, number>();
  const graph: Graph = { parent: [], parentEvent: [], depth: [], edgeStart: [], edges: [], initial };
  const queue: ModelState[] = [];
  for (const s of initial) {
    ids.set(stateKey(s), graph.parent.length);
    graph.parent.push(-1);
    graph.parentEvent.push(-1);
    graph.depth.push(0);
    queue.push(s);
  }
  const violations: { message: string; id: number }[] = [];
  const seenViolation = new Set<string>();
  const findings = new Map<string, { finding: FindingReport['finding']; count: number; id: number }>();
  const outcomes = new Map<string, { outcome: Outcome; order: 'fig9' | 'fast'; triggers: OutcomeReport['triggers']; states: number; sample: number; candidates: number[] }>();
  const bad = new Set<number>();
  const ends = new Set<number>();
  const rowsTaken = new Set<string>();
  let transitions = 0;
  let finalStates = 0;
  let truncated = false;
  const addViolation = (message: string, id: number): void => {
    if (seenViolation.has(message) || violations.length >= maxViolations) return;
    seenViolation.add(message);
    violations.push({ message, id });
  };

  for (let id = 0; id < queue.length; id++) {
    const s = queue[id] as ModelState;
    graph.edgeStart[id] = graph.edges.length;
    if (bad.has(id)) continue;
    const events = enabledEvents(s, opt);
    // A run ends where only optional events (a kill, a cut, the stranger, a trigger that must change nothing) remain.
    if (events.every((e) => isOptional(e, s))) {
      ends.add(id);
      finalStates++;
      const outcome = classifyEnd(s, opt);
      const triggers = s.O.trig && s.S.trig ? 'both' : s.O.trig ? 'origin' : s.S.trig ? 'successor' : 'none';
      const order = s.fast ? 'fast' : 'fig9';
      const key = `${order}|${triggers}|${outcome.kind}|${outcome.detail}`;
      const o = outcomes.get(key);
      if (o === undefined) outcomes.set(key, { outcome, order, triggers, states: 1, sample: id, candidates: [id] });
      else {
        o.states++;
        if (o.candidates.length < CANDIDATES) o.candidates.push(id);
      }
      if (!outcome.ok) addViolation(`${outcome.problem ?? outcome.kind} (${outcome.detail})`, id);
      if (s.calm && (s.O.trig || s.S.trig) && outcome.kind !== 'completed' && outcome.kind !== 'closed' && outcome.detail.indexOf('RELEASED') < 0) {
        const fkey = `calm-abort ${outcome.detail}`;
        const f = findings.get(fkey);
        if (f === undefined) findings.set(fkey, { finding: { kind: 'calm-abort', role: 'peer', state: outcome.detail, event: 'no failure' }, count: 1, id });
        else f.count++;
      }
    }
    for (let e = 0; e < events.length; e++) {
      const log: StepLog = { lines: null, findings: [], violations: [], rows: [] };
      const next = step(s, events[e] as ModelEvent, opt, log);
      transitions++;
      for (const r of log.rows) rowsTaken.add(r);
      const key = stateKey(next);
      let nid = ids.get(key);
      if (nid === undefined) {
        if (queue.length >= maxStates) {
          truncated = true;
          continue;
        }
        nid = queue.length;
        ids.set(key, nid);
        queue.push(next);
        graph.parent.push(id);
        graph.parentEvent.push(e);
        graph.depth.push((graph.depth[id] as number) + 1);
        if (log.violations.length > 0) {
          bad.add(nid);
          for (const v of log.violations) addViolation(v, nid);
        }
      }
      for (const f of log.findings) {
        const fkey = `${f.kind} ${f.role} ${f.state} ${f.event}`;
        const known = findings.get(fkey);
        if (known === undefined) findings.set(fkey, { finding: f, count: 1, id: nid });
        else known.count++;
      }
      graph.edges.push(nid);
    }
    // Free the expanded state; runs are rebuilt by replay from the initial states.
    queue[id] = undefined as unknown as ModelState;
  }
  graph.edgeStart[queue.length] = graph.edges.length;

  const { acyclic, runs } = countRuns(graph, queue.length, bad, ends);
  const result = {
    options: opt,
    states: queue.length,
    transitions,
    finalStates,
    runs,
    acyclic,
    maxDepth: graph.depth.reduce((a, b) => Math.max(a, b), 0),
    violations: violations.map((v) => ({ message: v.message, trace: traceTo(graph, v.id, opt), depth: graph.depth[v.id] as number })),
    findings: [...findings.values()]
      .map((f) => ({ finding: f.finding, count: f.count, trace: traceTo(graph, f.id, opt), depth: graph.depth[f.id] as number }))
      .sort((a, b) => a.depth - b.depth || findingKey(a).localeCompare(findingKey(b))),
    outcomes: [...outcomes.values()]
      .map((o) => ({ ...o, depth: graph.depth[o.sample] as number }))
      .sort((a, b) => a.order.localeCompare(b.order) || a.triggers.localeCompare(b.triggers) || a.depth - b.depth || a.outcome.detail.localeCompare(b.outcome.detail)),
    rowsTaken,
    truncated,
    ms: Date.now() - t0,
    graph,
  };
  return result;
}

function findingKey(f: FindingReport): string {
  return `${f.finding.kind} ${f.finding.role} ${f.finding.state} ${f.finding.event}`;
}

/**
 * Whether the graph is acyclic, and the number of distinct runs from the initial states to ends
 * (iterative depth-first search; states that broke an invariant end no run).
 */
function countRuns(graph: Graph, n: number, bad: ReadonlySet<number>, ends: ReadonlySet<number>): { acyclic: boolean; runs: bigint } {
  const color = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const paths: bigint[] = new Array<bigint>(n).fill(0n);
  let acyclic = true;
  const stack: number[] = [];
  const cursor = new Int32Array(n);
  for (let root = 0; root < graph.initial.length; root++) {
    if (color[root] !== 0) continue;
    stack.push(root);
    color[root] = 1;
    cursor[root] = graph.edgeStart[root] as number;
    while (stack.length > 0) {
      const v = stack[stack.length - 1] as number;
      const end = graph.edgeStart[v + 1] as number;
      const c = cursor[v] as number;
      if (c < end) {
        cursor[v] = c + 1;
        const w = graph.edges[c] as number;
        if (color[w] === 1) acyclic = false;
        else if (color[w] === 0) {
          color[w] = 1;
          cursor[w] = graph.edgeStart[w] as number;
          stack.push(w);
        }
        continue;
      }
      stack.pop();
      color[v] = 2;
      const start = graph.edgeStart[v] as number;
      if (bad.has(v)) paths[v] = 0n;
      else {
        let sum = ends.has(v) ? 1n : 0n;
        for (let i = start; i < end; i++) sum += paths[graph.edges[i] as number] as bigint;
        paths[v] = sum;
      }
    }
  }
  let runs = 0n;
  for (let root = 0; root < graph.initial.length; root++) runs += paths[root] as bigint;
  return { acyclic, runs: acyclic ? runs : -1n };
}

/** The events of the run that leads to state `id`, as indices into each state's enabled events. */
export function pathTo(graph: Graph, id: number): { root: number; choices: number[] } {
  const choices: number[] = [];
  let v = id;
  while ((graph.parent[v] as number) >= 0) {
    choices.push(graph.parentEvent[v] as number);
    v = graph.parent[v] as number;
  }
  return { root: v, choices: choices.reverse() };
}

/** Replays a run and renders it in the trace notation (§13.1). */
export function replay(
  initial: ModelState, choices: readonly number[], opt: ModelOptions, labels?: TraceLabels,
): { lines: string[]; rows: string[]; findings: Finding[]; final: ModelState } {
  let s = initial;
  const lines = prologue(s);
  const rows: string[] = [];
  const findings: Finding[] = [];
  for (const c of choices) {
    const events = enabledEvents(s, opt);
    const ev = events[c];
    if (ev === undefined) throw new Error('replay diverged from the search');
    const log: StepLog = { lines: [], findings: [], violations: [], rows: [] };
    s = step(s, ev, opt, log, labels);
    lines.push(...(log.lines ?? []));
    rows.push(...log.rows);
    findings.push(...log.findings);
    for (const v of log.violations) lines.push(`# VIOLATION: ${v}`);
  }
  return { lines, rows, findings, final: s };
}

/** The trace of the shortest run to state `id`. */
export function traceTo(graph: Graph, id: number, opt: ModelOptions, labels?: TraceLabels): string[] {
  const { root, choices } = pathTo(graph, id);
  return replay(graph.initial[root] as ModelState, choices, opt, labels).lines;
}
