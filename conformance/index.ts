/**
 * The conformance kit (spec §13.3, §15): vector files, the `check` of vectors against the
 * reference checkers, and the `conformance` command line.
 *
 * @module
 */
export {
  parseVectorFile,
  formatFrontMatter,
  vectorFileName,
  FRONT_MATTER_KEYS,
  REQUIRED_KEYS,
  TRACE_VECTOR_SCHEMA_ID,
  type TraceVectorMeta,
  type FrontMatterEntry,
  type FrontMatterKey,
  type VectorFile,
} from './vector-file.js';
export {
  checkPaths,
  checkTraceVector,
  formatReport,
  isFrameVectorJson,
  packageVersion,
  CHECK_REPORT_SCHEMA_ID,
  type CheckReport,
  type CheckedFile,
  type Outcome,
  type VectorVerdict,
} from './check.js';
export { main, usage, ExitCode, type Io, type Writable } from './cli.js';
export { checkFrameVectorFile } from './frame-vectors.js';
