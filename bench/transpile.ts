/**
 * The bench's child processes run plain JavaScript: `reference/` and `bench/fixtures/` transpiled
 * once per run into a temporary directory, file by file with the same TypeScript options as
 * scripts/ts-loader.mjs (no bundling, no type check — the sources as they are now, not a possibly
 * stale `dist/`). A child started through the TypeScript loader spends seconds transpiling the
 * library; that would swamp every start-up figure and the run's time budget.
 *
 * `spec/`, `grammar/` and `node_modules/` are symbolic links to the checkout's, so JSON imports,
 * the generated grammars and the dependencies resolve as they do there.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const compilerOptions: ts.CompilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  verbatimModuleSyntax: true,
  isolatedModules: true,
};

async function* typescriptFiles(directory: string): AsyncGenerator<string> {
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* typescriptFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** A transpiled copy of the library and the fixtures; {@link Transpiled.fixture} names a child module. */
export interface Transpiled {
  readonly root: string;
  /** The `.js` path of `bench/fixtures/<name>.ts`. */
  fixture(name: string): string;
  /** Removes the directory. */
  remove(): Promise<void>;
}

/** Transpiles `reference/` and `bench/fixtures/` into a fresh temporary directory. */
export async function transpileForChildren(): Promise<Transpiled> {
  const root = await mkdtemp(join(tmpdir(), 'rebind-bench-'));
  for (const folder of ['reference', 'bench/fixtures']) {
    for await (const path of typescriptFiles(join(ROOT, folder))) {
      const source = await readFile(path, 'utf8');
      const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: path });
      const out = join(root, relative(ROOT, path)).replace(/\.ts$/, '.js');
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, outputText);
    }
  }
  for (const link of ['spec', 'grammar', 'node_modules']) await symlink(join(ROOT, link), join(root, link), 'dir');
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
  return {
    root,
    fixture: (name) => join(root, 'bench', 'fixtures', `${name}.js`),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
