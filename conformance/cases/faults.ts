/**
 * Kit cases: faults (spec §15). Filled in by its owner.
 *
 * @module
 */
import type { KitCase } from '../run.js';

export const FAULTS_CASES: readonly KitCase[] = [];
