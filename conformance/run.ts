/**
 * `conformance run` (spec §15, §15.1): starts the implementation's adapter once per case, serves
 * the control channel, plays the other side on the real wire and gives each case a verdict.
 *
 * First slice: the adapter contract itself, and the server side (origin and successor) against
 * the kit as the peer over TCP. The kit's peer is the reference library's client, observed through
 * its trace hook.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot, validateWith, describeSchemaErrors } from '../reference/schemas.js';
import { connect, configure, mergeProcesses, setTraceHook, type RebindSocket, type HostTraceEvent } from '../reference/node/index.js';

type Line = Record<string, unknown>;

/** A verdict of §15.1. */
export type Verdict = 'pass' | 'fail' | 'skipped' | 'unsupported';

/** One case of the kit: an id, the sections it checks, its level, and what it does. */
export interface KitCase {
  readonly id: string;
  readonly title: string;
  readonly sections: readonly string[];
  readonly level: 'MUST' | 'SHOULD';
  /** Features the case needs (§15.1): without them it is `unsupported`. */
  readonly needs?: readonly string[];
  run(ctx: CaseContext): Promise<void>;
}

/** The outcome of one case. */
export interface CaseResult {
  readonly id: string;
  readonly level: 'MUST' | 'SHOULD';
  readonly sections: readonly string[];
  readonly verdict: Verdict;
  readonly message?: string;
  /** The section a failure names (§15.1: expected vs actual, and the section). */
  readonly section?: string;
  readonly ms: number;
  /**
   * The case's artefact: what happened, as one merged trace in the notation of §13.1 — the kit's
   * own peer's events and the `trace` lines the implementation's processes sent (§15.1).
   */
  readonly trace: readonly string[];
}

/** A case failed: expected and actual, and the section it checks. */
export class CaseFailure extends Error {
  constructor(message: string, readonly section: string) {
    super(message);
  }
}

/** The case needs what the implementation says it does not have (or cannot show, §15.1): verdict `unsupported`. */
export class Unsupported extends Error {}

/** One process of the implementation on the control channel. */
export class ImplProcess {
  readonly hello: Line;
  private nextId = 1;
  private readonly pending = new Map<number, (line: Line) => void>();
  readonly events: Line[] = [];
  /** The `trace` lines this process sent (§15.1), in its order. */
  readonly trace: string[] = [];
  private eventWaiters: Array<{ match: (e: Line) => boolean; resolve: (e: Line) => void }> = [];

  constructor(private readonly socket: Socket, hello: Line) {
    this.hello = hello;
  }

  get pid(): number {
    return this.hello.pid as number;
  }

  /** @internal */
  receive(line: Line): void {
    if (line.type === 'result') {
      this.pending.get(line.id as number)?.(line);
      this.pending.delete(line.id as number);
    } else if (line.type === 'trace') {
      this.trace.push(String(line.line));
    } else if (line.type === 'event') {
      this.events.push(line);
      const waiters = this.eventWaiters;
      this.eventWaiters = [];
      for (const w of waiters) {
        if (w.match(line)) w.resolve(line);
        else this.eventWaiters.push(w);
      }
    }
  }

  /** Sends a command; resolves with its result line (§15.1). */
  command(op: string, args: Line = {}): Promise<Line> {
    const id = this.nextId++;
    this.socket.write(`${JSON.stringify({ type: 'command', id, op, ...args })}\n`);
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  /** A command that must succeed: its value, else a failure naming the section. */
  async ok(op: string, args: Line, section: string): Promise<Line> {
    const result = await this.command(op, args);
    if (result.unsupported !== undefined) throw new Unsupported(`${op}: ${String(result.unsupported)}`);
    if (result.ok !== true) throw new CaseFailure(`${op} failed: ${JSON.stringify(result.error)}`, section);
    return (result.value as Line | undefined) ?? {};
  }

  /** The first event matching `match`, past or future. */
  event(match: (e: Line) => boolean): Promise<Line> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.eventWaiters.push({ match, resolve }));
  }
}

/** What a case can use. */
export class CaseContext {
  private readonly processes: ImplProcess[] = [];
  private waiters: Array<(p: ImplProcess) => void> = [];
  /** Frames the kit's peer sent and received (its trace hook). */
  readonly peerTrace: HostTraceEvent[] = [];
  readonly sockets: RebindSocket[] = [];
  /** Trace lines of the kit's own server-side processes (origin, successors), one list per process. */
  readonly kitTraces: (readonly string[])[] = [];
  /** Run when the case ends, last registered first (sockets, servers, processes a case made). */
  readonly cleanups: Array<() => unknown> = [];

  /** Registers something to undo when the case ends, whatever its verdict. */
  onCleanup(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** Every process's trace lines and the kit peer's, merged causally (§13.1). */
  mergedTrace(): string[] {
    return mergeProcesses([this.peerTrace.map((e) => e.text), ...this.kitTraces, ...this.processes.map((p) => p.trace)]);
  }

  /** @internal */
  add(process: ImplProcess): void {
    this.processes.push(process);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(process);
  }

  /** The n-th process that said hello (0: the one the kit started). */
  process(n: number): Promise<ImplProcess> {
    const found = this.processes[n];
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const check = (): void => {
        const p = this.processes[n];
        if (p !== undefined) resolve(p);
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** The pids of every process of the implementation that said hello. */
  pids(): number[] {
    return this.processes.map((p) => p.pid);
  }

  /** The transport of the run (`RunOptions.transport`): the kit's peer connects over it (§11). */
  transport: 'tcp' | 'rdma' = 'tcp';

  /** The kit connects to `addr` as the peer (§2.1), over the real wire: TCP (§11.1) or RDMA RC (§11.2), as the run says. */
  async peer(addr: string, options: { fast?: boolean } = {}): Promise<RebindSocket> {
    const match = /^(tcp|rdma):\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
    if (match === null || match[1] !== this.transport) throw new CaseFailure(`listen answered an address that is not ${this.transport}:// (${addr})`, '3.2');
    const socket = connect({ host: match[2]!, port: Number(match[3]), transport: this.transport, ...(options.fast !== undefined ? { fast: options.fast } : {}) });
    this.sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }
}

/** Reads exactly `n` bytes from a kit socket. */
export function readBytes(socket: RebindSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= n) {
        socket.off('data', onData);
        socket.pause();
        const all = Buffer.concat(chunks);
        if (all.length > n) socket.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume(); // an earlier readBytes paused it: a new 'data' listener alone does not resume
  });
}

/** Reads through the adapter until `n` bytes came (several `recv`s). */
export async function recvBytes(process: ImplProcess, handle: string, n: number, section: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const value = await process.ok('recv', { handle }, section);
    if (value.end === true) throw new CaseFailure(`end-of-stream after ${have} of ${n} bytes`, section);
    const data = Buffer.from(String(value.data), 'hex');
    parts.push(data);
    have += data.length;
  }
  return Buffer.concat(parts);
}

/** Options of {@link runKit}. */
export interface RunOptions {
  /** `reference`, or the path of an adapter executable (§15.1). */
  readonly impl: string;
  readonly cases: readonly KitCase[];
  /** Seconds per case. */
  readonly timeout?: number;
  /**
   * The transport of C1 and C2 (§11): `tcp` (default) or `rdma` (RDMA RC, §11.2). The adapter is
   * told with `REBIND_KIT_TRANSPORT` (§15.1); the kit's peer connects over it. Without an RDMA
   * device here, every case is *skipped* with the `NO_DEVICE` reason.
   */
  readonly transport?: 'tcp' | 'rdma';
  /** Told of each result as it comes (progress). */
  readonly onResult?: (result: CaseResult) => void;
}

/** Runs the cases against the implementation; one fresh adapter process (tree) per case. */
export async function runKit(options: RunOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const noDevice = options.transport === 'rdma' ? await rdmaMissing() : undefined;
  for (const c of options.cases) {
    if (noDevice !== undefined) {
      // §15.1: a case that cannot run here is skipped, with the reason.
      const skipped: CaseResult = { id: c.id, level: c.level, sections: c.sections, verdict: 'skipped', message: noDevice, ms: 0, trace: [] };
      results.push(skipped);
      options.onResult?.(skipped);
      continue;
    }
    const result = await runCase(c, options);
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

async function runCase(c: KitCase, options: RunOptions): Promise<CaseResult> {
  const started = Date.now();
  const token = randomBytes(16).toString('hex');
  const ctx = new CaseContext();
  ctx.transport = options.transport ?? 'tcp';
  const controls = new Set<Socket>();
  const hook = (e: HostTraceEvent): void => {
    if (e.actor === 'P') ctx.peerTrace.push(e);
  };
  setTraceHook(hook);
  const server: Server = createNetServer((socket) => {
    controls.add(socket);
    let buffered = '';
    let process: ImplProcess | undefined;
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (text: string) => {
      buffered += text;
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        let line: Line;
        try {
          line = JSON.parse(buffered.slice(0, at)) as Line;
        } catch {
          socket.destroy();
          return;
        }
        buffered = buffered.slice(at + 1);
        if (process === undefined) {
          // §15.1: the first line is hello, with the right token, or the kit closes the channel.
          const check = validateWith('urn:rebind:schema:adapter-message', line);
          if (line.type !== 'hello' || !check.valid || line.token !== token) {
            helloProblems.push(line.type !== 'hello' ? `first line is ${String(line.type)}, not hello` : line.token !== token ? 'wrong token' : describeSchemaErrors(check.errors).join('; '));
            socket.destroy();
            return;
          }
          process = new ImplProcess(socket, line);
          ctx.add(process);
        } else process.receive(line);
      }
    });
  });
  const helloProblems: string[] = [];
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  const child = startAdapter(options.impl, { REBIND_KIT: `tcp://127.0.0.1:${port}`, REBIND_KIT_TOKEN: token, REBIND_KIT_CASE: c.id, REBIND_KIT_TRANSPORT: ctx.transport });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timeoutMs = (options.timeout ?? 20) * 1000;
  let verdict: Verdict = 'pass';
  let message: string | undefined;
  let section: string | undefined;
  try {
    await Promise.race([
      (async () => {
        const first = await ctx.process(0);
        const features = (first.hello.features as string[] | undefined) ?? [];
        const missing = (c.needs ?? []).filter((f) => !features.includes(f));
        if (missing.length > 0) throw new Unsupported(`needs ${missing.join(', ')}`);
        await c.run(ctx);
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new CaseFailure(`no verdict within ${timeoutMs / 1000} s${helloProblems.length > 0 ? ` (control channel: ${helloProblems.join('; ')})` : ''}${stderr !== '' ? `; adapter stderr: ${stderr.trim().slice(-400)}` : ''}`, '15.1')), timeoutMs).unref()),
    ]);
  } catch (error) {
    if (error instanceof Unsupported) {
      verdict = 'unsupported';
      message = error.message;
    } else {
      verdict = 'fail';
      if (error instanceof CaseFailure) section = error.section;
      message = error instanceof CaseFailure ? `${error.message} (§${error.section})` : error instanceof Error ? error.message : String(error);
    }
  } finally {
    setTraceHook(undefined);
    for (const cleanup of ctx.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // a cleanup that fails must not hide the verdict
      }
    }
    for (const s of ctx.sockets) s.destroy();
    for (const s of controls) s.destroy();
    server.close();
    // Closing the control channel ends the adapter's processes (§15.1); give them a moment to exit
    // on their own (so they flush what they write on exit), then kill what is left.
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => {
        child.once('exit', resolve);
        setTimeout(resolve, 1500).unref();
      });
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of ctx.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  return { id: c.id, level: c.level, sections: c.sections, verdict, ...(message !== undefined ? { message } : {}), ...(section !== undefined ? { section } : {}), ms: Date.now() - started, trace: ctx.mergedTrace() };
}

/** Why RDMA cannot be used here (the `NO_DEVICE` message, §11.2), or undefined when it can. */
async function rdmaMissing(): Promise<string | undefined> {
  const { rdmaAvailable } = await import('../reference/transport/rdma/index.js');
  const found = await rdmaAvailable();
  return found.ok ? undefined : found.error.message;
}

/** Starts the adapter: the reference's own module, or an executable (§15.1). */
function startAdapter(impl: string, env: Record<string, string>): ChildProcess {
  if (impl === 'reference') {
    // The kit running from its TypeScript sources (the test suite, under scripts/ts-loader.mjs)
    // starts the adapter from source too, with the same loader, so that c8 sees it; else dist/.
    const fromSource = import.meta.url.endsWith('.ts');
    const adapter = fromSource ? fileURLToPath(new URL('./adapter/reference.ts', import.meta.url)) : join(packageRoot(), 'dist', 'conformance', 'adapter', 'reference.js');
    return spawn(process.execPath, [...(fromSource ? process.execArgv : []), adapter], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return spawn(impl, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Short timers for every case (§9.1), so a failure shows within seconds. */
export const KIT_TIMERS = { SUSPEND: 1000, REBOUND: 2000, ABORT: 1000, REBIND: 2000, ATTACH: 1000, ARMED: 5000, COPY: 2000, COMMIT: 5000, NEED: 5000 };
configure({ timers: KIT_TIMERS });
