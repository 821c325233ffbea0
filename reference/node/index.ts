/**
 * The reference implementation as a Node library (spec §2.3, §10, §11.1): emulated sockets in
 * Node's idiom over TCP, an emulated fork whose children inherit connections that rebind lazily,
 * explicit handoffs to worker processes, and trace hooks (§13.1).
 *
 * @module
 */
export { createServer, connect, RebindServer, type RebindOptions, type RebindConnectOptions } from './net.js';
export { RebindSocket, isRebindSocket, type RebindSocketOptions } from './socket.js';
export {
  Runtime,
  fork,
  inherited,
  handoff,
  acceptHandoffs,
  exit,
  configure,
  type ConnectionRecord,
  type RebindForkOptions,
  type RuntimeOptions,
} from './runtime.js';
export { ConnectionHost, type HostRuntime } from './host.js';
export {
  setTraceHook,
  setTraceDirectory,
  readTraceDirectory,
  mergeProcesses,
  messageFields,
  type HostTraceEvent,
  type TraceHook,
} from './trace.js';
