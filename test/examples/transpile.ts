/**
 * The examples' processes run plain JavaScript in the tests: `reference/` and `examples/`
 * transpiled once into a temporary directory, file by file, with the options of
 * scripts/ts-loader.mjs (what `node --import ./scripts/register-ts.mjs` does at every start, which
 * costs seconds per process). The sources as they are now, not a possibly stale `dist/`.
 * `spec/`, `grammar/` and `node_modules/` are symbolic links to the checkout's.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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

/** A transpiled copy of the library and the examples. */
export interface TranspiledExamples {
  readonly root: string;
  /** The `.js` path of `examples/<path>.ts`. */
  script(path: string): string;
  remove(): Promise<void>;
}

/** Transpiles `reference/` and `examples/` into a fresh temporary directory. */
export async function transpileExamples(): Promise<TranspiledExamples> {
  const root = await mkdtemp(join(tmpdir(), 'rebind-examples-js-'));
  for (const folder of ['reference', 'examples']) {
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
    script: (path) => join(root, 'examples', path.replace(/\.ts$/, '.js')),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
