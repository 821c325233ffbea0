/**
 * Kit cases: client (spec §15). Filled in by its owner.
 *
 * @module
 */
import type { KitCase } from '../run.js';

export const CLIENT_CASES: readonly KitCase[] = [];
