// Host-side preparation: Debian packages, the guest kernel (cached) and the tiny initramfs (cached).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError, probe, run } from './proc.mjs';

/**
 * Everything the lab needs from Debian. Installed with --no-install-recommends: with recommends
 * apt pulls ~190 packages, including a kernel whose initramfs rebuild alone takes minutes.
 */
export const PACKAGES = [
  'qemu-system-x86', // the guest machine (TCG: the host has no usable KVM)
  'busybox-static', // the initramfs shell and tools
  'cpio', // packs the initramfs
  'kmod', // depmod on the host, modprobe in the guest
  'iproute2', // ip and rdma in the guest
  'rdma-core',
  'ibverbs-providers', // librxe, the user-space half of soft-RoCE
  'ibverbs-utils', // ibv_devices, ibv_devinfo, ibv_rc_pingpong
  'rdmacm-utils', // rping, rstream, ucmatose
  'perftest', // ib_send_bw, ib_write_bw, ib_send_lat
  'libibverbs-dev', // headers: struct offsets are checked against them
  'librdmacm-dev',
];

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

/** Installed packages are skipped, so a warm run only pays for one dpkg-query. */
export async function ensurePackages(log) {
  // dpkg-query exits 1 when some package was never installed, but still lists the others.
  const query = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...PACKAGES], { encoding: 'utf8' });
  const out = query.stdout ?? '';
  const installed = new Set(
    out
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  const missing = PACKAGES.filter((p) => !installed.has(p));
  if (missing.length === 0) return;
  log(`installing ${missing.length} Debian packages: ${missing.join(' ')}`);
  // A fresh machine's package lists may be stale or absent; refresh them first.
  await run('apt-get update', 'apt-get', ['update'], { env: APT_ENV, timeoutMs: 600_000 });
  await run(
    'apt-get install',
    'apt-get',
    ['install', '-y', '-q', '--no-install-recommends', ...missing],
    { env: APT_ENV, timeoutMs: 1_200_000 },
  );
}

/** Which versioned kernel package Debian's linux-image-amd64 stands for (e.g. linux-image-6.1.0-41-amd64). */
async function kernelPackageName() {
  const depends = async () =>
    (await probe('apt-cache', ['depends', 'linux-image-amd64']))?.match(/Depends: (linux-image-[^\s]+)/)?.[1];
  let name = await depends();
  if (!name) {
    await run('apt-get update', 'apt-get', ['update'], { env: APT_ENV, timeoutMs: 600_000 });
    name = await depends();
  }
  if (!name) throw new LabError('kernel', 'apt-cache depends linux-image-amd64 names no kernel package');
  return name;
}

/**
 * The guest kernel: Debian's own linux-image package, downloaded (not installed: installing
 * runs initramfs-tools for a minute and touches /boot) and unpacked into `cacheDir/kernel`.
 * Cached: once `kernel/ready.json` exists no network or apt call is made. Delete the folder to refresh.
 * @returns {Promise<{version: string, vmlinuz: string, modules: string, root: string}>}
 */
export async function ensureKernel(cacheDir, log) {
  const dir = path.join(cacheDir, 'kernel');
  const readyFile = path.join(dir, 'ready.json');
  if (existsSync(readyFile)) return JSON.parse(readFileSync(readyFile, 'utf8'));

  const pkg = await kernelPackageName();
  log(`fetching and unpacking ${pkg} (once; cached in ${dir})`);
  // Build in a private folder and rename at the end, so a run that dies halfway leaves no half cache
  // and two runs racing each other both end with a complete one.
  const tmp = path.join(cacheDir, `kernel.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await run('kernel download', 'apt-get', ['download', '-q', pkg], { cwd: tmp, env: APT_ENV, timeoutMs: 900_000 });
  const deb = (await readdir(tmp)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new LabError('kernel download', `apt-get download ${pkg} left no .deb in ${tmp}`);
  const root = path.join(tmp, 'root');
  await run('kernel unpack', 'dpkg-deb', ['-x', path.join(tmp, deb), root], { timeoutMs: 600_000 });
  await rm(path.join(tmp, deb));
  const versions = await readdir(path.join(root, 'lib/modules'));
  const version = versions[0];
  if (versions.length !== 1 || !version) throw new LabError('kernel unpack', `expected one kernel in ${pkg}, found: ${versions}`);
  await run('depmod', 'depmod', ['-b', root, version], { timeoutMs: 600_000 });

  const final = (p) => p.replace(tmp, dir);
  const info = {
    package: pkg,
    version,
    root: final(root),
    vmlinuz: final(path.join(root, 'boot', `vmlinuz-${version}`)),
    modules: final(path.join(root, 'lib/modules', version)),
  };
  await writeFile(path.join(tmp, 'ready.json'), JSON.stringify(info, null, 2) + '\n');
  try {
    await rename(tmp, dir);
  } catch (err) {
    // Another run finished first: keep its copy.
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(readyFile)) throw new LabError('kernel', `cannot move the kernel into ${dir}: ${err.message}`);
  }
  return JSON.parse(readFileSync(readyFile, 'utf8'));
}

/**
 * Modules stage 1 must insmod before it can mount the host's root: virtio PCI, 9p over virtio and
 * overlayfs, with their dependencies in load order (from modprobe itself, so a newer kernel with
 * other dependencies still works). Built-in ones are left out.
 */
async function initramfsModules(kernel) {
  const out = await run(
    'initramfs',
    'modprobe',
    ['--show-depends', '-d', kernel.root, '-S', kernel.version, '-a', 'virtio_pci', '9pnet_virtio', '9p', 'overlay'],
    { timeoutMs: 120_000 },
  );
  const files = [];
  for (const line of out.stdout.split('\n')) {
    const file = line.match(/^insmod (\S+)/)?.[1];
    if (file && !files.includes(file)) files.push(file);
  }
  return files;
}

/**
 * The initramfs: static busybox, stage 1 (lab/init/stage1.sh as /init) and its modules, as an
 * uncompressed newc cpio. Cached under a name hashed from everything that goes into it.
 */
export async function ensureInitramfs(cacheDir, kernel, labDir, log) {
  const busybox = '/bin/busybox';
  const stage1 = path.join(labDir, 'init/stage1.sh');
  const modules = await initramfsModules(kernel);
  const key = createHash('sha256')
    .update(readFileSync(stage1))
    .update(`${kernel.version}\n${modules.join('\n')}\n${statSync(busybox).size}`)
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, `initramfs-${key}.cpio`);
  if (existsSync(file)) return file;

  const tmp = path.join(cacheDir, `initramfs.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(path.join(tmp, 'bin'), { recursive: true });
  await mkdir(path.join(tmp, 'modules'));
  await cp(busybox, path.join(tmp, 'bin/busybox'));
  await writeFile(path.join(tmp, 'init'), await readFile(stage1), { mode: 0o755 });
  const order = [];
  for (const [i, src] of modules.entries()) {
    // Numbered names keep modprobe's load order; compressed modules (newer Debian kernels) are
    // unpacked here because busybox insmod may not read them.
    const base = `${String(i).padStart(2, '0')}-${path.basename(src).replace(/\.(xz|zst)$/, '')}`;
    const dest = path.join(tmp, 'modules', base);
    if (src.endsWith('.xz')) await run('initramfs', 'sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', src, dest]);
    else if (src.endsWith('.zst')) await run('initramfs', 'zstd', ['-dq', src, '-o', dest]);
    else await cp(src, dest);
    order.push(base);
  }
  await writeFile(path.join(tmp, 'modules/order'), order.join('\n') + '\n');
  await run('initramfs', 'sh', ['-c', 'find . | LC_ALL=C sort | cpio --quiet -o -H newc > "$1"', 'sh', `${file}.tmp`], {
    cwd: tmp,
    timeoutMs: 120_000,
  });
  await rename(`${file}.tmp`, file);
  await rm(tmp, { recursive: true, force: true });
  // Older initramfs builds are no longer used.
  for (const f of await readdir(cacheDir)) {
    if (/^initramfs-[0-9a-f]+\.cpio$/.test(f) && path.join(cacheDir, f) !== file) await rm(path.join(cacheDir, f), { force: true });
  }
  log(`built ${path.basename(file)} (${modules.length} modules)`);
  return file;
}
