/**
 * Transport bindings (spec §11): the {@link FrameConnection} interface, the TCP binding (§11.1),
 * the local channel (§11.3) and a registry of bindings by name (the scheme of their addresses).
 *
 * @example
 * ```ts
 * const tcp = getTransport('tcp');
 * const listener = await tcp.listen('tcp://127.0.0.1:0', (c) => c.on('frame', (m) => console.log(m.type)));
 * const c = await tcp.connect(listener.address);
 * c.send({ type: 'FIN', offset: 0n });
 * ```
 *
 * @module
 */
import { RebindError } from '../errors.js';
import { rdmaTransport } from './rdma/index.js';
import { tcpTransport } from './tcp.js';
import { parseAddress, type Transport } from './transport.js';

export type {
  ConnectOptions,
  FrameConnection,
  FrameConnectionEvent,
  FrameConnectionEvents,
  FrameListener,
  ListenOptions,
  Transport,
  TransportAddress,
} from './transport.js';
export { formatAddress, parseAddress } from './transport.js';
export { TcpTransport, tcpTransport } from './tcp.js';
export { SocketFrameConnection, checkMaxPayload, type SocketConnectionOptions } from './socket.js';
export { FrameSplitter, type FrameSplitterOptions } from './splitter.js';
export { connectLocal, listenLocal, type ConnectLocalOptions, type ListenLocalOptions, type LocalChannel, type LocalListener } from './local.js';

export { RdmaTransport, rdmaTransport, rdmaAvailable, rdmaInterfaceAddress, DEFAULT_CREDITS, type RdmaTransportOptions } from './rdma/index.js';

const registry = new Map<string, Transport>([
  ['tcp', tcpTransport],
  ['rdma', rdmaTransport], // loads koffi and the verbs on first use; NO_DEVICE from listen/connect without a device (§11.2)
]);

/**
 * The binding called `name` (`'tcp'`, `'rdma'`). The RDMA binding exists on every machine; on one
 * without an RDMA device its `listen`/`connect` reject with `NO_DEVICE` saying why (§11.2).
 *
 * @throws RebindError `UNSUPPORTED` for a name no binding has.
 */
export function getTransport(name: string): Transport {
  const transport = registry.get(name);
  if (transport !== undefined) return transport;
  throw new RebindError('UNSUPPORTED', `no transport called ${JSON.stringify(name)} (known: ${[...registry.keys()].join(', ')})`, {
    section: '11',
    detail: { transport: name },
  });
}

/** The binding for an address's scheme (`tcp://…` → TCP), e.g. for the `addr` of REBIND (§4.6). */
export function transportFor(address: string): Transport {
  return getTransport(parseAddress(address, { allowPortZero: true }).scheme);
}

/** Adds or replaces a binding (the RDMA binding registers itself here). */
export function registerTransport(transport: Transport): void {
  registry.set(transport.name, transport);
}

/** The names of the registered bindings. */
export function transportNames(): string[] {
  return [...registry.keys()];
}
