/**
 * rebind — the reference implementation of the rebind protocol (spec/rebind.md).
 *
 * This entry point is what `import ... from 'rebind'` gives: typed errors (§12), the spec's tables
 * (§4, §5, §7, §9.1), the wire codec (§3–§5), the trace notation and its checker (§7.4, §13), and
 * the JSON Schemas (validated with ajv).
 *
 * @module rebind
 */
export * from './errors.js';
export * from './tables.js';
export * from './diagnostics.js';
export * from './schemas.js';
export * from './wire/index.js';
export * from './trace/index.js';
export * from './protocol/index.js';
export * from './transport/index.js';
export * from './node/index.js';
