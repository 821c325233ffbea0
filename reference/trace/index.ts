/**
 * The trace notation (spec §13): events, parser, formatter.
 *
 * @module
 */
export * from './events.js';
export { parseTrace, parseTraceOrThrow, type ParseTraceOptions, type ParseTraceResult } from './parse.js';
export { formatEvent, formatTrace, eventToJson } from './format.js';
export * from './project.js';
export * from './ordering.js';
export * from './semantics.js';
export * from './check.js';
