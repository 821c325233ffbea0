/**
 * The examples, end to end in real processes (examples/*): each server runs as its own process
 * group (its forked children and workers join the group), the client scripts run against it, and
 * the test checks what they print and the traces every process wrote (REBIND_TRACE_DIR, spec §13):
 *
 * - prefork-server: each client is served by a child forked for it, never by the parent (T1,
 *   §2.4); the parent's trace has no application send or recv;
 * - http-handoff: the first response on a keep-alive connection comes from the parent, the next
 *   ones from the worker it handed the connection to (§10.2), over one connection; bodies exact.
 *
 * The processes run the examples transpiled to JavaScript once (./transpile.ts: what the
 * TypeScript loader of the README's commands does at every start, which costs seconds per
 * process). All of them are killed (SIGTERM, then SIGKILL to the process group) after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkTraceText, readTraceDirectory } from '../../reference/index.js';
import { transpileExamples, type TranspiledExamples } from './transpile.js';

/** How long a process may take to start and print that it is ready. */
const START_MS = 10_000;
/** How long a client may take from start to exit. */
const CLIENT_MS = 15_000;

let examples: TranspiledExamples;
beforeAll(async () => {
  examples = await transpileExamples();
}, 60_000);
afterAll(() => examples?.remove());

interface Running {
  readonly process: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (waits for it, up to `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The exit code (null after a signal). */
  readonly exited: Promise<number | null>;
}

const started: Running[] = [];
const scratch: string[] = [];

/** Starts `node examples/SCRIPT ARGS` (transpiled) as the leader of a new process group. */
function run(script: string, args: readonly string[], env: Record<string, string> = {}): Running {
  const { NODE_V8_COVERAGE: _coverage, ...inherited } = process.env; // temporary files: no coverage
  const child = spawn(process.execPath, [examples.script(script), ...args], {
    cwd: process.cwd(),
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: children it forks can be killed with it
  });
  let text = '';
  let closed = false;
  const waiters: Array<() => void> = [];
  const append = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // After the output is complete, a waiter still waiting learns that nothing more will come.
  child.once('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  const running: Running = {
    process: child,
    output: () => text,
    exited,
    waitFor(pattern, ms = START_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no ${String(pattern)} within ${ms} ms; output:\n${text}`)), ms);
        const check = (): void => {
          const match = pattern.exec(text);
          if (match !== null) {
            clearTimeout(timer);
            resolve(match);
          } else if (closed) {
            clearTimeout(timer);
            reject(new Error(`${script} exited (${child.exitCode ?? child.signalCode}) before ${String(pattern)}; output:\n${text}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
  started.push(running);
  return running;
}

/** The exit code of a client, which must end within CLIENT_MS. */
async function finished(client: Running): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`client still running after ${CLIENT_MS} ms; output:\n${client.output()}`)), CLIENT_MS);
  });
  try {
    return await Promise.race([client.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Signals a whole process group; a group that is gone already is fine. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

afterEach(async () => {
  const all = started.splice(0);
  // SIGTERM first (the servers close their listeners and stop their workers), then SIGKILL to
  // every process group: whatever a server forked goes with it.
  for (const r of all) if (r.process.pid !== undefined) killGroup(r.process.pid, 'SIGTERM');
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(all.map((r) => r.exited)), new Promise((resolve) => (grace = setTimeout(resolve, 3000)))]);
  clearTimeout(grace);
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const r of all) if (r.process.pid !== undefined) killGroup(r.process.pid, 'SIGKILL');
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function traceDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebind-examples-'));
  scratch.push(dir);
  return dir;
}

/** Lines of a trace whose actor is `actor` and whose event is one of `names`. */
function events(trace: string, actor: string, names: readonly string[]): string[] {
  return trace.split('\n').filter((line) => names.some((name) => new RegExp(`^@\\S+ ${actor} ${name}\\b`).test(line)));
}

describe('examples/prefork-server', () => {
  it('serves every client from a child forked for it, never from the parent', async () => {
    const traces = traceDirectory();
    const env = { REBIND_TRACE_DIR: traces };
    const server = run('prefork-server/server.ts', ['0'], env);
    const [, parentPid, port] = await server.waitFor(/\[parent (\d+)\] prefork server listening on 127\.0\.0\.1:(\d+)/);

    // Two clients at once: two connections, two children.
    const conversations = [
      ['hello', 'exactly once'],
      ['second client', 'ümlaut ✓'],
    ];
    const clients = conversations.map((lines) => run('prefork-server/client.ts', [port!, ...lines], env));
    const codes = await Promise.all(clients.map(finished));
    expect(codes, clients.map((c) => c.output()).join('\n---\n')).toEqual([0, 0]);

    const served: Array<{ pid: string; cid: string }> = [];
    clients.forEach((client, i) => {
      const output = client.output();
      const cid = /cid=([0-9a-f]{32})/.exec(output)![1]!;
      const pid = /< WELCOME (\d+)/.exec(output)![1]!;
      const lines = conversations[i]!;
      // The whole conversation, byte for byte: a greeting, one answer per line, BYE, then who served it.
      const expected = [
        `client: connected to 127.0.0.1:${port} cid=${cid}`,
        `> ${lines[0]}`,
        `< WELCOME ${pid}`,
        `< ${pid} ${lines[0]!.toUpperCase()}`,
        ...lines.slice(1).flatMap((line) => [`> ${line}`, `< ${pid} ${line.toUpperCase()}`]),
        '> QUIT',
        `< ${pid} BYE`,
        `client: served by pid ${pid}`,
        '',
      ].join('\n');
      expect(output).toBe(expected);
      expect(pid).not.toBe(parentPid);
      served.push({ pid, cid });
    });
    expect(served[0]!.pid).not.toBe(served[1]!.pid);
    expect(served[0]!.cid).not.toBe(served[1]!.cid);

    // The parent forked exactly these children for these connections, and each handoff committed.
    for (const { pid, cid } of served) {
      await server.waitFor(new RegExp(`\\[child ${pid}\\] connection #\\d closed`));
      expect(server.output()).toMatch(new RegExp(`\\[parent ${parentPid}\\] connection #\\d cid=${cid} forked child pid ${pid}\\n`));
    }
    expect(server.output().match(/committed to its child/g)).toHaveLength(2);

    // The traces of every process (§13): valid, and the parent (O) never read or wrote a byte.
    const merged = readTraceDirectory(traces);
    for (const { cid } of served) {
      const trace = merged.get(cid);
      expect(trace, `no trace for ${cid}`).toBeDefined();
      expect(checkTraceText(trace!), trace).toEqual([]);
      expect(events(trace!, 'O', ['send', 'recv'])).toEqual([]);
      expect(events(trace!, 'O', ['close'])).toHaveLength(1);
      expect(events(trace!, 'S\\d+', ['send']).length).toBeGreaterThanOrEqual(3);
      expect(events(trace!, 'O', ['~> P REBIND', '~> P SUSPEND'])).toHaveLength(1);
    }
  });
});

describe('examples/http-handoff', () => {
  it('answers the first request from the parent and the next ones from the worker, on one connection', async () => {
    const traces = traceDirectory();
    const env = { REBIND_TRACE_DIR: traces };
    const server = run('http-handoff/server.ts', ['0'], env);
    const [, parentPid, workerPid] = await server.waitFor(/\[parent (\d+)\] worker pid (\d+) is ready/);
    const [, port] = await server.waitFor(/http server listening on 127\.0\.0\.1:(\d+)/);

    const client = run('http-handoff/client.ts', [port!, '4'], env);
    expect(await finished(client), client.output()).toBe(0);

    const output = client.output();
    const cid = /cid=([0-9a-f]{32})/.exec(output)![1]!;
    const line = (n: number, pid: string): string =>
      `GET /${n} -> 200 pid=${pid} socket=#1 cid=${cid} body=${JSON.stringify(`served by pid ${pid}: GET /${n}\n`)}`;
    expect(output).toBe(
      [line(1, parentPid!), line(2, workerPid!), line(3, workerPid!), line(4, workerPid!), 'client: 4 responses over 1 connection(s)', ''].join('\n'),
    );

    // The server side saw one connection, served one request and handed it over once.
    await server.waitFor(/handoff committed/);
    const log = server.output();
    expect(log.match(/connection #\d+ accepted/g)).toEqual(['connection #1 accepted']);
    expect(log).toContain(`connection #1 accepted, cid=${cid}`);
    expect(log).toContain(`connection #1: served 1 request(s), handing it to worker pid ${workerPid}`);
    expect(log).toContain(`[worker ${workerPid}] received connection cid=${cid}`);
    expect(log).not.toMatch(/handoff failed|Error/);

    // The connection's trace (§13): valid; the parent served exactly one request before T1.
    await server.waitFor(new RegExp(`\\[worker ${workerPid}\\] cid=${cid} closed`));
    const trace = readTraceDirectory(traces).get(cid);
    expect(trace).toBeDefined();
    expect(checkTraceText(trace!), trace).toEqual([]);
    expect(events(trace!, 'O', ['send'])).toHaveLength(1);
    expect(events(trace!, 'O', ['close'])).toHaveLength(1);
    expect(events(trace!, 'S\\d+', ['send'])).toHaveLength(3);
  });
});
