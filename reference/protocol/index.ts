/**
 * The sans-IO protocol engines (spec §6, §7, §9): one state machine per role and connection,
 * driven by `spec/tables/states.json` at run time, fed inputs and returning effects.
 *
 * @module
 */
export type { Channel, Effect, EngineConfig, Input } from './types.js';
export { OriginEngine } from './origin.js';
export { SuccessorEngine, SUPPLEMENTARY_TIMERS } from './successor.js';
export { PeerEngine } from './peer.js';
export { Engine } from './engine.js';
export { ByteStream, CopyBuffer } from './stream.js';
export { TableMachine, parseAction, parseGuard, verbsOf, type Action, type MachineOptions, type Verb } from './machine.js';
