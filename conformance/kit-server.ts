/**
 * The kit as the server side (spec §15.1): origin and successor on the real wire, for the cases
 * that test an implementation's peer role (`kit.client.*`).
 *
 * - {@link KitServer}: the reference library in processes of the kit's own: an origin started with
 *   `child_process.fork` (so that a case can kill it, §9.3), and the successors that origin starts
 *   with the reference's `fork` (real children with dormant handles, §2.3), each a `kit-node`
 *   process on its own control line. The kit drives them with the commands of §15.1 and keeps
 *   their trace lines in the case's artefact.
 * - {@link RawOrigin}: a frame-level origin in the kit process, for what the reference will not do
 *   (a SUSPEND(fast) to a peer that did not offer fast, §6.1).
 *
 * @module
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { messageFields } from '../reference/node/index.js';
import { formatEvent, parseTrace, type TraceEvent } from '../reference/trace/index.js';
import { tcpTransport } from '../reference/transport/tcp.js';
import type { FrameConnection, FrameListener } from '../reference/transport/transport.js';
import { CID_SIZE, MAX_PAYLOAD_DEFAULT, type HelloMessage, type Message } from '../reference/wire/index.js';
import { CaseFailure, ImplProcess, KIT_TIMERS, type CaseContext } from './run.js';

type Line = Record<string, unknown>;

/** Resolves when `check` holds (polled), or fails the case after `ms` with `what`. */
export async function until(check: () => boolean, ms: number, what: string, section: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new CaseFailure(`timed out after ${ms} ms waiting for ${what}`, section);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The events of a process's trace lines (§13.1), parsed. */
export function traceEvents(lines: readonly string[]): TraceEvent[] {
  return parseTrace(lines.join('\n')).events as TraceEvent[];
}

/** Options of {@link KitServer.start}. */
export interface KitServerOptions {
  /** Offer the fast order in the origin's HELLO (§6.1). */
  readonly fast: boolean;
  /** Timers of the kit's origin and successors (§9.1); default the kit's short ones. */
  readonly timers?: Readonly<Record<string, number>>;
}

/**
 * The kit's origin and its successors. `node(0)` is the origin, `node(n)` the n-th successor to
 * say hello. Everything it started ends with the case (`ctx.onCleanup`).
 */
export class KitServer {
  private readonly nodes: ImplProcess[] = [];
  private waiters: Array<() => void> = [];
  private readonly children = new Map<number, ChildProcess>();
  private readonly pids = new Set<number>();
  private stderr = '';
  /** Where the origin listens, `tcp://127.0.0.1:PORT`. */
  addr = '';

  private constructor(private readonly ctx: CaseContext) {}

  /** Starts the kit's origin process, configures it and lets it listen. */
  static async start(ctx: CaseContext, options: KitServerOptions): Promise<KitServer> {
    const controls = new Set<Socket>();
    const control = createNetServer((socket) => {
      controls.add(socket);
      server.attach(socket);
    });
    const server = new KitServer(ctx);
    ctx.onCleanup(() => {
      for (const s of controls) s.destroy();
      control.close();
      for (const pid of server.pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    });
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));
    const port = (control.address() as { port: number }).port;
    // From the TypeScript sources (the test suite), the child keeps the TS loader; else dist/.
    const fromSource = import.meta.url.endsWith('.ts');
    const module = fileURLToPath(new URL(fromSource ? './kit-node.ts' : './kit-node.js', import.meta.url));
    const child = forkProcess(module, [], {
      execArgv: fromSource ? process.execArgv : [],
      env: { ...process.env, REBIND_KIT_NODE: `tcp://127.0.0.1:${port}` },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr?.on('data', (d: Buffer) => (server.stderr += d.toString()));
    if (child.pid !== undefined) {
      server.pids.add(child.pid);
      server.children.set(child.pid, child);
    }
    const origin = await Promise.race([
      server.node(0),
      new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the kit's origin process exited (${String(code)}): ${server.stderr.trim().slice(-400)}`)))),
    ]);
    await origin.ok('configure', { fast: options.fast, timers: options.timers ?? KIT_TIMERS }, '15.1');
    server.addr = String((await origin.ok('listen', {}, '15.1')).addr);
    return server;
  }

  private attach(socket: Socket): void {
    let buffered = '';
    let node: ImplProcess | undefined;
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (text: string) => {
      buffered += text;
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, at)) as Line;
        buffered = buffered.slice(at + 1);
        if (node === undefined) {
          if (line.type !== 'hello') return void socket.destroy();
          node = new ImplProcess(socket, line);
          this.pids.add(node.pid);
          this.nodes.push(node);
          this.ctx.kitTraces.push(node.trace); // the case's artefact: the kit's side too (§15.1)
          const waiters = this.waiters;
          this.waiters = [];
          for (const w of waiters) w();
        } else node.receive(line);
      }
    });
  }

  /** The n-th kit process that said hello: 0 the origin, then the successors in order. */
  node(n: number): Promise<ImplProcess> {
    return new Promise((resolve) => {
      const check = (): void => {
        const found = this.nodes[n];
        if (found !== undefined) resolve(found);
        else this.waiters.push(check);
      };
      check();
    });
  }

  /** The origin's handle of the next connection it accepts, and its cid. */
  async accepted(): Promise<{ handle: string; cid: string }> {
    const e = await (await this.node(0)).event((x) => x.event === 'accepted');
    return { handle: String(e.handle), cid: String(e.cid) };
  }

  /** Forks a successor of `from` holding `handles` (§2.3); resolves when it holds them dormant. */
  async fork(from: ImplProcess, handles: readonly string[]): Promise<ImplProcess> {
    const n = this.nodes.length;
    await from.ok('fork', { handles }, '2.3');
    const successor = await this.node(n);
    for (const h of handles) await successor.event((e) => e.event === 'inherited' && e.handle === h);
    return successor;
  }

  /** Resolves when the kit's origin process has died (§9.3). */
  originDied(): Promise<void> {
    const child = [...this.children.values()][0];
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }
}

/**
 * A frame-level origin (§6.1) in the kit process: it accepts one C1, sends the acceptor's HELLO
 * at once, and then sends and receives whatever frames the case says. Its trace lines (actor `O`,
 * the other end `P`) go into the case's artefact.
 */
export class RawOrigin {
  /** Every frame received, in order. */
  readonly received: Message[] = [];
  readonly trace: string[] = [];
  readonly cid = Uint8Array.from(randomBytes(CID_SIZE));
  private connection: FrameConnection | undefined;
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private readonly listener: FrameListener, private readonly fast: boolean) {}

  /** Listens on 127.0.0.1; `fast` is what its HELLO offers. */
  static async start(ctx: CaseContext, fast: boolean): Promise<RawOrigin> {
    const box: { origin?: RawOrigin } = {};
    const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (connection) => box.origin?.accept(connection));
    const origin = new RawOrigin(listener, fast);
    box.origin = origin;
    ctx.kitTraces.push(origin.trace);
    ctx.onCleanup(async () => {
      origin.connection?.destroy();
      await listener.close();
    });
    return origin;
  }

  get addr(): string {
    return this.listener.address;
  }

  private accept(connection: FrameConnection): void {
    if (this.connection !== undefined) return void connection.destroy();
    this.connection = connection;
    this.note('action', 'accept', { args: ['P'] });
    connection.on('frame', (message) => {
      this.note('receive', message.type, { message });
      this.received.push(message);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
    connection.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    // §6.1 step 2: each end sends HELLO at once; the acceptor's fixes the cid.
    this.send({ type: 'HELLO', fast: this.fast, acceptor: true, cid: this.cid, maxPayload: MAX_PAYLOAD_DEFAULT, credits: 0 });
  }

  private note(kind: 'send' | 'receive' | 'action', name: string, extra: { message?: Message; args?: string[] }): void {
    const event: TraceEvent = {
      line: 0,
      column: 0,
      time: Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000,
      actor: 'O',
      kind,
      ...(kind === 'action' ? {} : { peer: 'P' }),
      name,
      args: extra.args ?? [],
      fields: extra.message !== undefined ? messageFields(extra.message) : {},
    };
    this.trace.push(formatEvent(event));
  }

  /** Sends one frame on C1. */
  send(message: Message): void {
    if (this.connection === undefined || this.connection.closed) throw new CaseFailure(`the kit's origin cannot send ${message.type}: C1 is closed`, '6.1');
    this.note('send', message.type, { message });
    if (message.type === 'DATA') this.connection.sendData(message.offset, message.data);
    else this.connection.send(message);
  }

  /** The other end's HELLO (§6.1), once C1 is up. */
  async hello(ms: number): Promise<HelloMessage> {
    await this.frame((m) => m.type === 'HELLO', ms, 'the peer\'s HELLO', '6.1');
    return this.received.find((m) => m.type === 'HELLO') as HelloMessage;
  }

  /**
   * The first frame received from index `from` on that matches `match`; undefined if C1 closed or
   * `ms` passed first.
   */
  async frame(match: (m: Message) => boolean, ms: number, what: string, section: string, from = 0): Promise<Message> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.received.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new CaseFailure(`C1 closed before ${what}`, section);
      const left = end - Date.now();
      if (left <= 0) throw new CaseFailure(`no ${what} within ${ms} ms`, section);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The peer's stream as received in DATA frames so far (checks the offsets are contiguous, §6.4). */
  stream(): Buffer {
    const parts: Buffer[] = [];
    let offset = 0n;
    for (const m of this.received) {
      if (m.type !== 'DATA') continue;
      if (m.offset !== offset) throw new CaseFailure(`DATA at offset ${m.offset}, expected ${offset}`, '6.4');
      parts.push(Buffer.from(m.data));
      offset += BigInt(m.data.length);
    }
    return Buffer.concat(parts);
  }
}
