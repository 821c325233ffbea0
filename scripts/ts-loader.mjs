// Node module hooks that let the tests import the TypeScript sources directly, so that c8 measures
// coverage on them through Node's own loader (V8 coverage plus the inline source maps written here).
// Vitest runs with `experimental.viteModuleRunner: false` and `--import ./scripts/register-ts.mjs`.
// Specifiers ending in `.js` that point at a `.ts` file are resolved to it (the project's ESM import
// style); `.ts` files are transpiled one by one with TypeScript (no type check: `npm run typecheck`
// does that).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const compilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  sourceMap: false,
  inlineSourceMap: true,
  inlineSources: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
};

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
    const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: path });
    return { format: 'module', source: outputText, shortCircuit: true };
  }
  return nextLoad(url, context);
}
