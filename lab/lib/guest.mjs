// Boots the qemu guest for one command and streams its results back.
//
// Channels: the serial console (kernel messages and the stages' "lab-step:" lines, kept in
// console.log) and a writable 9p share, the run's own folder `io`, where the host leaves
// job.env and cmd.sh and the guest leaves stdout, stderr, rc or failed. The host tails stdout
// and stderr while the guest runs, so long commands show their output as it comes.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, openSync, readSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LabError, tail } from './proc.mjs';

/** Kernel command line. tsc=reliable: else the guest falls back to the slow HPET clock under TCG. */
const APPEND = 'console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off tsc=reliable random.trust_cpu=on';

/** Reads what a file gained since the last call and writes it to `out`. */
function follower(file, out) {
  let offset = 0;
  return () => {
    if (!existsSync(file)) return;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      for (let n; (n = readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n) out.write(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * Boot the guest and run the job prepared in `io`. Resolves with the command's exit code;
 * rejects with a LabError naming the guest step that failed (with the console's last lines).
 * @param {object} o
 * @param {{vmlinuz: string}} o.kernel
 * @param {string} o.initramfs
 * @param {string} o.io          the run's folder (second 9p share)
 * @param {number} o.bootMs      time allowed from qemu's start until the command starts
 * @param {number} o.commandMs   time allowed from the command's start until qemu has exited
 * @param {(msg: string) => void} o.log
 * @param {boolean} o.verbose    echo the guest console to stderr
 */
export function runGuest({ kernel, initramfs, io, bootMs, commandMs, log, verbose, smp, memMb }) {
  const args = [
    ...['-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', String(smp), '-m', String(memMb)],
    ...['-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nic', 'none', '-nodefaults', '-no-reboot'],
    ...['-kernel', kernel.vmlinuz, '-initrd', initramfs, '-append', APPEND],
    // The host's / read-only (multidevs=remap: / spans several devices, avoid inode clashes) ...
    ...['-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap'],
    // ... and the run's folder writable, for the results.
    ...['-virtfs', `local,path=${io},mount_tag=labio,security_model=none`],
  ];
  const consoleLog = path.join(io, 'console.log');
  const consoleFile = createWriteStream(consoleLog);
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

  return new Promise((resolve, reject) => {
    // stdin stays an open pipe: qemu's stdio serial would otherwise see EOF.
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let step = 'qemu start';
    let qemuStderr = '';
    let consoleText = '';
    let timer;
    let timeoutReason = '';
    const timeline = []; // when each guest step started (seconds since qemu's start)
    // qemu must not outlive the runner: not on exit (the watchdog), not on Ctrl-C or kill.
    const killOnExit = () => qemu.kill('SIGKILL');
    const onSignal = (signal) => {
      killOnExit();
      process.stderr.write(`[lab] ${signal}: guest stopped\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('exit', killOnExit);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const armTimer = (ms, what) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timeoutReason = `${what} (${ms / 1000} s) ran out during guest step '${step}'`;
        qemu.kill('SIGKILL');
      }, ms);
    };
    armTimer(bootMs, 'the boot time limit');

    const followOut = follower(path.join(io, 'stdout'), process.stdout);
    const followErr = follower(path.join(io, 'stderr'), process.stderr);
    const poll = setInterval(() => {
      followOut();
      followErr();
    }, 250);

    let partial = '';
    qemu.stdout.on('data', (chunk) => {
      consoleFile.write(chunk);
      const text = chunk.toString().replaceAll('\r', '');
      consoleText = (consoleText + text).slice(-64 * 1024);
      if (verbose) process.stderr.write(text);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = line.match(/lab-step: (\S+)/);
        if (!m?.[1]) continue;
        step = m[1];
        timeline.push(`${step} +${seconds()}`);
        if (step === 'run') {
          log(`guest ready after ${seconds()} s (rxe0 ACTIVE on dummy0, 10.77.0.1); running the command`);
          armTimer(commandMs, 'the command time limit');
        }
      }
    });
    qemu.stderr.on('data', (d) => (qemuStderr += d));
    qemu.on('error', (err) => {
      timeoutReason = `cannot start qemu-system-x86_64: ${err.message}`;
    });

    qemu.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      process.off('exit', killOnExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      followOut();
      followErr();
      consoleFile.end();
      if (verbose) log(`guest steps: ${timeline.join(', ')}, qemu exit +${seconds()}`);
      const rcFile = path.join(io, 'rc');
      const failedFile = path.join(io, 'failed');
      const shown = () =>
        `--- guest console (last lines; all of it in ${consoleLog}):\n${tail(consoleText, 30)}` +
        (qemuStderr.trim() ? `\n--- qemu stderr:\n${tail(qemuStderr, 15)}` : '');
      if (existsSync(rcFile)) {
        resolve({ code: Number(readFileSync(rcFile, 'utf8').trim()), seconds: Number(seconds()) });
      } else if (existsSync(failedFile)) {
        reject(new LabError(`guest: ${step}`, `the guest failed: ${readFileSync(failedFile, 'utf8')}`, shown()));
      } else if (timeoutReason) {
        reject(new LabError(`guest: ${step}`, timeoutReason, shown()));
      } else {
        const failLine = consoleText.match(/lab-fail: .*/g)?.pop();
        const why = failLine ?? `qemu exited with ${code ?? signal} before the command finished`;
        reject(new LabError(`guest: ${step}`, why, shown()));
      }
    });
  });
}
