// Small process helpers for the lab runner: run a command with a time limit and
// turn any failure into a LabError that names the step and shows what it printed.
import { spawn } from 'node:child_process';

/** A failure of one lab step; run.mjs prints it and exits with code 125. */
export class LabError extends Error {
  /**
   * @param {string} step   which step failed (e.g. 'apt-get install')
   * @param {string} message what went wrong
   * @param {string} [output] what the step printed (shown trimmed)
   */
  constructor(step, message, output = '') {
    super(message);
    this.step = step;
    this.output = output;
  }
}

/** The last `lines` lines of a text (what a failed step printed). */
export function tail(text, lines = 40) {
  const all = text.trimEnd().split('\n');
  const cut = all.length > lines ? [`… (${all.length - lines} earlier lines cut)`] : [];
  return [...cut, ...all.slice(-lines)].join('\n');
}

/**
 * Run `cmd args` to completion. Resolves with { stdout, stderr } on exit code 0;
 * rejects with a LabError for `step` on a non-zero exit, a signal, a spawn error
 * or when `timeoutMs` passes (the process is then killed).
 */
export function run(step, cmd, args, { cwd, env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new LabError(step, `cannot start ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const shown = `$ ${[cmd, ...args].join(' ')}\n${stdout}${stderr}`;
      if (timedOut) reject(new LabError(step, `${cmd} did not finish within ${timeoutMs / 1000} s`, shown));
      else if (code !== 0) reject(new LabError(step, `${cmd} exited with ${code ?? signal}`, shown));
      else resolve({ stdout, stderr });
    });
  });
}

/** Run a command only to learn its output; null instead of an error when it fails. */
export async function probe(cmd, args, options = {}) {
  try {
    return (await run('probe', cmd, args, { timeoutMs: 60_000, ...options })).stdout;
  } catch {
    return null;
  }
}

/** Quote one word for /bin/sh. */
export function shQuote(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
