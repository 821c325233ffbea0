#!/usr/bin/env node
// The RDMA lab: `npm run lab -- <command...>` runs <command> in a qemu guest with a real kernel
// RDMA stack (soft-RoCE: rdma_rxe, device rxe0 on dummy0 with 10.77.0.1/24) and returns the
// command's stdout, stderr and exit code. The machine's own kernel has no RDMA and no usable KVM,
// so the guest is Debian's stock kernel under TCG, with the machine's / as its root (read-only,
// tmpfs overlay). See docs/rdma-lab.md.
//
// Steps: Debian packages (apt-get, once) → the guest kernel (apt-get download, once, cached in
// .lab/) → the initramfs (cached) → boot, bring up rxe0, run the command → power off.
//
// Exit code: the command's own; 124 when its time limit ran out; 125 when the lab itself failed
// (the message names the step and shows what it printed).
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGuest } from './lib/guest.mjs';
import { LabError, shQuote } from './lib/proc.mjs';
import { ensureInitramfs, ensureKernel, ensurePackages } from './lib/setup.mjs';

const LAB_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.dirname(LAB_DIR);
const LAB_FAILED = 125;

const USAGE = `usage: npm run lab -- [options] <command...>

Runs <command> inside a qemu guest with soft-RoCE (rxe0 on dummy0, 10.77.0.1/24), in the
repository checkout (read-only; /tmp is a writable tmpfs).
One argument is a shell command line (pipes, &, && work): npm run lab -- 'a & b'
Several arguments are one command and its arguments:    npm run lab -- ibv_devinfo -v

options (before the command):
  --timeout S     time limit for the command in seconds (default 600; env LAB_TIMEOUT)
  --env NAME=VAL  set a variable for the command (repeatable); --env NAME passes the host's value
  --verbose       show the guest's console (boot steps, kernel messages) on stderr
  --quiet         no "[lab]" progress lines
  --out DIR       copy what the command wrote to $RDMA_LAB_OUT into DIR on the host
  --keep          keep the run's folder (.lab/runs/…: console.log, stdout, stderr) after success
  --smp N, --mem MB   guest size (default 2 CPUs, 2048 MB)
environment: LAB_CACHE_DIR (default <repo>/.lab)`;

/** Options before the command; everything from the first non-option word on is the command. */
function parseArgs(argv) {
  const opts = { timeout: Number(process.env.LAB_TIMEOUT ?? 600), env: {}, verbose: false, quiet: false, keep: false, out: null, smp: 2, mem: 2048 };
  let i = 0;
  const value = (name) => {
    const v = argv[++i];
    if (v === undefined) throw new LabError('arguments', `${name} needs a value\n\n${USAGE}`);
    return v;
  };
  for (; i < argv.length && argv[i]?.startsWith('--'); i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    } else if (a === '--timeout') opts.timeout = Number(value(a));
    else if (a === '--smp') opts.smp = Number(value(a));
    else if (a === '--mem') opts.mem = Number(value(a));
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--quiet') opts.quiet = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--out') opts.out = path.resolve(value(a));
    else if (a === '--env') {
      const [name, ...rest] = value(a).split('=');
      if (!name || !/^[A-Za-z_]\w*$/.test(name)) throw new LabError('arguments', `bad --env ${name}`);
      opts.env[name] = rest.length ? rest.join('=') : (process.env[name] ?? '');
    } else if (a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new LabError('arguments', `unknown option ${a}\n\n${USAGE}`);
  }
  const command = argv.slice(i);
  if (command.length === 0) throw new LabError('arguments', `no command given\n\n${USAGE}`);
  if (!(opts.timeout > 0)) throw new LabError('arguments', '--timeout must be a positive number of seconds');
  return { opts, command };
}

/** cmd.sh: the command's whole environment (it runs under env -i), then the command itself. */
function commandScript(command, opts) {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/root',
    LANG: process.env.LANG ?? 'C.UTF-8',
    TERM: 'dumb',
    // What a test can use to know it is in the lab, and where.
    RDMA_LAB: '1',
    RDMA_LAB_DEVICE: 'rxe0',
    RDMA_LAB_NETDEV: 'dummy0',
    RDMA_LAB_ADDR: '10.77.0.1',
    // The one place whose files come back to the host (with --out or --keep).
    RDMA_LAB_OUT: '/lab-io/out',
    ...(process.env.CI ? { CI: process.env.CI } : {}),
    ...opts.env,
  };
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}`);
  // One word: a shell command line. Several: argv, quoted word by word and exec'd.
  const body = command.length === 1 ? command[0] : `exec ${command.map(shQuote).join(' ')}`;
  return ['# written by lab/run.mjs', 'ulimit -l unlimited 2>/dev/null', ...exports, body, ''].join('\n');
}

/** Run folders are kept after a failure (for console.log); drop those older than a day. */
async function pruneOldRuns(runsDir) {
  if (!existsSync(runsDir)) return;
  for (const name of await readdir(runsDir)) {
    const dir = path.join(runsDir, name);
    if (Date.now() - statSync(dir).mtimeMs > 86_400_000) await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const started = Date.now();
  const { opts, command } = parseArgs(process.argv.slice(2));
  const log = (msg) => opts.quiet || process.stderr.write(`[lab] ${msg}\n`);
  const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);

  if (process.getuid?.() !== 0) throw new LabError('preflight', 'the lab installs packages and runs qemu: run it as root');
  if (!existsSync('/etc/debian_version')) throw new LabError('preflight', 'the lab expects a Debian machine (apt-get, dpkg-deb)');

  // A hard bound on the whole run, whatever hangs (each step also has its own limit): an hour for
  // setup and boot (a cold run needs about a minute) plus the command's own limit.
  const totalMs = 60 * 60_000 + opts.timeout * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`[lab] FAILED: the whole run took longer than ${totalMs / 1000} s\n`);
    process.exit(LAB_FAILED);
  }, totalMs);
  watchdog.unref();

  const cacheDir = path.resolve(process.env.LAB_CACHE_DIR ?? path.join(REPO, '.lab'));
  await mkdir(cacheDir, { recursive: true });
  await ensurePackages(log);
  const kernel = await ensureKernel(cacheDir, log);
  const initramfs = await ensureInitramfs(cacheDir, kernel, LAB_DIR, log);

  await pruneOldRuns(path.join(cacheDir, 'runs'));
  // The run's own folder, shared writable with the guest.
  const io = path.join(cacheDir, 'runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  await mkdir(path.join(io, 'out'), { recursive: true });
  const job = {
    LAB_STAGE2: path.join(LAB_DIR, 'init/stage2.sh'),
    LAB_MODULES: kernel.modules,
    LAB_CWD: REPO,
    LAB_TIMEOUT: String(opts.timeout),
    LAB_READY_TIMEOUT: '120',
    LAB_ADDR: '10.77.0.1/24',
  };
  await writeFile(path.join(io, 'job.env'), Object.entries(job).map(([k, v]) => `${k}=${shQuote(v)}\n`).join(''));
  await writeFile(path.join(io, 'cmd.sh'), commandScript(command, opts));

  log(`booting the guest (kernel ${kernel.version}, TCG, ${opts.smp} CPUs) after ${elapsed()} s of setup`);
  const result = await runGuest({
    kernel,
    initramfs,
    io,
    bootMs: 5 * 60_000,
    commandMs: opts.timeout * 1000 + 60_000,
    log,
    verbose: opts.verbose,
    smp: opts.smp,
    memMb: opts.mem,
  });
  if (result.code === 124) log(`the command's time limit (${opts.timeout} s) ran out`);
  log(`exit code ${result.code}; ${elapsed()} s in all (guest ${result.seconds} s)`);
  if (opts.out) {
    await cp(path.join(io, 'out'), opts.out, { recursive: true });
    log(`files from $RDMA_LAB_OUT copied to ${opts.out}`);
  }
  // Kept after a failure (console.log shows why) and with --keep; older than a day, pruned.
  if (opts.keep || result.code !== 0) log(`run folder kept: ${io}`);
  else await rm(io, { recursive: true, force: true });
  return result.code;
}

// Even a bug in the runner ends with the lab's own exit code, not 1 (which a command may return).
process.on('uncaughtException', (err) => {
  process.stderr.write(`[lab] FAILED (internal error): ${err?.stack ?? err}\n`);
  process.exit(LAB_FAILED);
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof LabError) {
      process.stderr.write(`[lab] FAILED in step '${err.step}': ${err.message.trimEnd()}\n`);
      if (err.output) process.stderr.write(`${err.output.trimEnd()}\n`);
    } else {
      process.stderr.write(`[lab] FAILED: ${err?.stack ?? err}\n`);
    }
    process.exitCode = LAB_FAILED;
  },
);
