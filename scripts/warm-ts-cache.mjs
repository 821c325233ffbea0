// Vitest global setup: transpiles every TypeScript source the tests' child processes may load into
// the loader's disk cache (scripts/ts-loader.mjs) before any test starts. On a fresh clone the
// cache is empty, and without this the first multi-process tests would each compile the library
// in several processes at once on a 2-core machine, long enough to hit their deadlines.
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cachedTranspile } from './ts-loader.mjs';

const ROOTS = ['reference', 'conformance', 'test', 'examples', 'bench'];

async function* typescriptFiles(dir) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'generated') yield* typescriptFiles(path);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

export default async function setup() {
  const started = Date.now();
  let files = 0;
  for (const root of ROOTS) {
    for await (const path of typescriptFiles(root)) {
      const absolute = resolve(path);
      await cachedTranspile(await readFile(absolute, 'utf8'), absolute);
      files++;
    }
  }
  if (process.env.REBIND_DEBUG) console.log(`ts cache warm: ${files} files in ${Date.now() - started} ms`);
}
