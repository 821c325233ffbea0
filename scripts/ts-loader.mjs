// Node module hooks that let the tests import the TypeScript sources directly, so that c8 measures
// coverage on them through Node's own loader (V8 coverage plus the inline source maps written here).
// Vitest runs with `experimental.viteModuleRunner: false` and `--import ./scripts/register-ts.mjs`.
// Specifiers ending in `.js` that point at a `.ts` file are resolved to it (the project's ESM import
// style); `.ts` files are transpiled one by one with TypeScript (no type check: `npm run typecheck`
// does that).
//
// Transpiled output is cached on disk (node_modules/.cache/rebind-ts, keyed by a hash of the source
// and its path): the tests start many child processes, and loading TypeScript itself costs each of
// them a second or more. TypeScript is imported only on a cache miss.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.cache', 'rebind-ts');
const LOADER_VERSION = '2';
let typescript;

async function transpile(source, path) {
  typescript ??= (await import('typescript')).default;
  const ts = typescript;
  const compilerOptions = {
    module: ts.ModuleKind.ESNext,
    target: ts.ScriptTarget.ES2022,
    sourceMap: false,
    inlineSourceMap: true,
    inlineSources: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
  };
  return ts.transpileModule(source, { compilerOptions, fileName: path }).outputText;
}

export async function cachedTranspile(source, path) {
  const key = createHash('sha256').update(LOADER_VERSION).update('\0').update(path).update('\0').update(source).digest('hex');
  const file = join(CACHE, `${key}.js`);
  try {
    return await readFile(file, 'utf8');
  } catch {
    const output = await transpile(source, path);
    try {
      await mkdir(CACHE, { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, output);
      await rename(temporary, file); // atomic: concurrent processes never read half a file
    } catch {
      // A read-only tree (the RDMA lab's guest): no cache, still correct.
    }
    return output;
  }
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/')) && context.parentURL?.startsWith('file:')) {
    const candidate = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(candidate)) {
      return nextResolve(candidate.href, context);
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  const bare = url.replace(/[?#].*$/, ''); // the test runner may add a query string
  if (bare.startsWith('file:') && bare.endsWith('.ts') && !bare.endsWith('.d.ts')) {
    const path = fileURLToPath(bare);
    const source = await readFile(path, 'utf8');
    return { format: 'module', source: await cachedTranspile(source, path), shortCircuit: true };
  }
  return nextLoad(url, context);
}
