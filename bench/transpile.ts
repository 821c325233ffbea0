/**
 * The bench's child processes run plain JavaScript: `reference/` and `bench/fixtures/` transpiled
 * once per run (scripts/transpile-tree.ts). A child started through the TypeScript loader would
 * spend start-up time transpiling the library, which would swamp every start-up figure.
 */
import { transpileTree } from '../scripts/transpile-tree.js';

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
  const tree = await transpileTree(['reference', 'bench/fixtures'], 'bench');
  return { root: tree.root, fixture: (name) => tree.js(`bench/fixtures/${name}`), remove: tree.remove };
}
