/**
 * The examples' processes run plain JavaScript in the tests: `reference/` and `examples/`
 * transpiled once (scripts/transpile-tree.ts), so that no process spends seconds transpiling.
 */
import { transpileTree } from '../../scripts/transpile-tree.js';

/** A transpiled copy of the library and the examples. */
export interface TranspiledExamples {
  readonly root: string;
  /** The `.js` path of `examples/<path>.ts`. */
  script(path: string): string;
  remove(): Promise<void>;
}

/** Transpiles `reference/` and `examples/` into a fresh temporary directory. */
export async function transpileExamples(): Promise<TranspiledExamples> {
  const tree = await transpileTree(['reference', 'examples'], 'examples-js');
  return { root: tree.root, script: (path) => tree.js(`examples/${path}`), remove: tree.remove };
}
