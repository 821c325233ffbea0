/**
 * A transpiled copy of some of the checkout's TypeScript folders, as plain JavaScript in a fresh
 * temporary directory: file by file with the options of scripts/ts-loader.mjs (no bundling, no type
 * check — the sources as they are now, not a possibly stale `dist/`). The bench and the examples'
 * tests start child processes from it, so that no child spends start-up time transpiling and
 * start-up figures measure only what they should.
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

/** A transpiled tree. */
export interface TranspiledTree {
  readonly root: string;
  /** The `.js` path of the checkout's `<path>.ts` (a path relative to the checkout). */
  js(path: string): string;
  /** Removes the directory. */
  remove(): Promise<void>;
}

/** Transpiles `folders` (relative to the checkout) into a fresh temporary directory named after `label`. */
export async function transpileTree(folders: readonly string[], label: string): Promise<TranspiledTree> {
  const root = await mkdtemp(join(tmpdir(), `rebind-${label}-`));
  for (const folder of folders) {
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
    js: (path) => join(root, path.replace(/\.ts$/, '') + '.js'),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
