/**
 * The RDMA RC binding (spec §11.2): {@link RdmaTransport} makes {@link FrameConnection}s over
 * reliable connected queue pairs set up with rdma_cm, through libibverbs/librdmacm (rdma-core)
 * called with koffi. Addresses are `rdma://IP:PORT` (§3.2).
 *
 * Layers (each its own module):
 * - abi.ts — the C structs and constants (checked against the headers by the layout test);
 * - verbs.ts — the libraries, the inline verbs through `ibv_context.ops`, the device check;
 * - reactor.ts — the event-loop integration (completion and CM channel fds, `poll` on a worker);
 * - rc.ts — rdma_cm connect/listen and one RC QP with registered buffers;
 * - connection.ts — frames, credits and CREDIT frames over one QP.
 *
 * This module loads none of them until `listen` or `connect` is called, so importing it costs
 * nothing on a machine without RDMA; there both reject with `NO_DEVICE` saying why (§11.2: never
 * pretend to use RDMA).
 *
 * @example
 * ```ts
 * const rdma = new RdmaTransport();
 * const listener = await rdma.listen('rdma://10.77.0.1:0', (c) => c.on('frame', (m) => console.log(m.type)));
 * const c = await rdma.connect(listener.address);
 * c.send({ type: 'HELLO', fast: false, acceptor: false, cid: new Uint8Array(16), maxPayload: 65536, credits: 0 });
 * ```
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { RebindError } from '../../errors.js';
import { MAX_PAYLOAD_DEFAULT } from '../../wire/index.js';
import { checkMaxPayload } from '../socket.js';
import { parseAddress } from '../transport.js';
import type { ConnectOptions, FrameConnection, FrameListener, ListenOptions, Transport, TransportAddress } from '../transport.js';

const SECTION = '11.2';
/** Receive buffers announced in the first frame by default (each maxPayload + 8 bytes). */
export const DEFAULT_CREDITS = 8;

/** Options of {@link RdmaTransport}. */
export interface RdmaTransportOptions {
  /**
   * Receive buffers each connection announces in its first frame (§11.2, ≥ 3; default 8). One
   * more is posted for the other end's first frame; each is `maxPayload + 8` bytes of registered
   * memory.
   */
  readonly credits?: number;
}

/** Parses an `rdma://` address; `INVALID_ARGUMENT` for another scheme or a bad address. */
function parseRdmaAddress(address: string, allowPortZero: boolean): TransportAddress {
  const parsed = parseAddress(address, { allowPortZero });
  if (parsed.scheme !== 'rdma') {
    throw new RebindError('INVALID_ARGUMENT', `the RDMA transport cannot use ${address}: the scheme must be rdma`, { section: SECTION, detail: { address } });
  }
  return parsed;
}

/** The IP of a host (IP literals as they are, DNS names looked up). */
async function resolveHost(host: string, address: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw new RebindError('UNREACHABLE', `cannot resolve ${host} of ${address}: ${(error as Error).message}`, { section: SECTION, detail: { address }, cause: error });
  }
}

/** The layers below, loaded on first use (they load koffi and the RDMA libraries). */
async function layers(): Promise<{ rc: typeof import('./rc.js'); connection: typeof import('./connection.js') }> {
  try {
    const [rc, connection] = await Promise.all([import('./rc.js'), import('./connection.js')]);
    rc.getStack(); // throws NO_DEVICE when there is no RDMA here
    return { rc, connection };
  } catch (error) {
    if (error instanceof RebindError) throw error;
    throw new RebindError('NO_DEVICE', `the RDMA transport cannot be loaded: ${(error as Error).message}`, { section: SECTION, cause: error });
  }
}

/** See the module comment. {@link rdmaTransport} is an instance with the defaults. */
export class RdmaTransport implements Transport {
  readonly name = 'rdma';
  readonly #credits: number;

  constructor(options: RdmaTransportOptions = {}) {
    const credits = options.credits ?? DEFAULT_CREDITS;
    if (!Number.isInteger(credits) || credits < 3 || credits > 1024) {
      throw new RebindError('INVALID_ARGUMENT', 'credits must be an integer 3..1024 (§11.2: at least 3)', { section: SECTION, detail: { credits } });
    }
    this.#credits = credits;
  }

  async listen(address: string, onConnection: (connection: FrameConnection) => void, options: ListenOptions = {}): Promise<FrameListener> {
    const { host, port } = parseRdmaAddress(address, true);
    const maxPayload = checkMaxPayload(options.maxPayload ?? MAX_PAYLOAD_DEFAULT);
    const ip = await resolveHost(host, address);
    const { rc, connection } = await layers();
    const settings = { maxPayload, credits: this.#credits };
    let listener: import('./rc.js').RcListener;
    try {
      listener = rc.rcListen(ip, port, connection.rcOptionsFor(settings), (endpoint) => {
        const conn = new connection.RdmaFrameConnection(endpoint, settings);
        return {
          ...conn.handlers,
          onEstablished: () => {
            onConnection(conn); // the user attaches its listeners here…
            conn.activate(); // …then frames that arrived meanwhile are delivered
          },
        };
      });
    } catch (error) {
      const why = error instanceof RebindError ? error.message : String(error);
      throw new RebindError('UNREACHABLE', `cannot listen on ${address}: ${why}`, { section: SECTION, detail: { address }, cause: error });
    }
    return {
      address: listener.address,
      setKeepAlive: (keep: boolean) => listener.setKeepAlive(keep),
      close: async () => listener.close(),
    };
  }

  async connect(address: string, options: ConnectOptions = {}): Promise<FrameConnection> {
    const { host, port } = parseRdmaAddress(address, false);
    const maxPayload = checkMaxPayload(options.maxPayload ?? MAX_PAYLOAD_DEFAULT);
    if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs >= 0)) {
      throw new RebindError('INVALID_ARGUMENT', 'timeoutMs must be a number ≥ 0', { section: SECTION, detail: { timeoutMs: options.timeoutMs } });
    }
    const ip = await resolveHost(host, address);
    const { rc, connection } = await layers();
    const settings = { maxPayload, credits: this.#credits };
    let conn: InstanceType<typeof connection.RdmaFrameConnection> | undefined;
    await rc.rcConnect(
      ip,
      port,
      connection.rcOptionsFor(settings),
      (endpoint) => {
        conn = new connection.RdmaFrameConnection(endpoint, settings);
        return conn.handlers;
      },
      { timeoutMs: options.timeoutMs, signal: options.signal },
    );
    const connected = conn as InstanceType<typeof connection.RdmaFrameConnection>;
    // Frames that arrive before the caller has attached its listeners wait for the next turn.
    setImmediate(() => connected.activate());
    return connected;
  }
}

/** The RDMA transport with the default credits (§11.2). */
export const rdmaTransport: Transport = new RdmaTransport();

/**
 * Whether RDMA can be used in this process: the device names, or the `NO_DEVICE` error saying why
 * not (§11.2). Loads the libraries on first call.
 */
export async function rdmaAvailable(): Promise<{ ok: true; devices: readonly string[] } | { ok: false; error: RebindError }> {
  try {
    const { rdmaAvailability } = await import('./verbs.js');
    const found = rdmaAvailability();
    if (!found.ok) return found;
    await layers(); // rdma_cm too
    return found;
  } catch (error) {
    return { ok: false, error: error instanceof RebindError ? error : new RebindError('NO_DEVICE', String(error), { section: SECTION }) };
  }
}

/**
 * An IP address of an RDMA-capable interface of this host — where a listener can be reached over
 * RDMA (§11.2: `rdma://IP:PORT`, "the IP of an RDMA-capable interface"): the first IPv4 address
 * (else IPv6) of a network device that an RDMA device's port is bound to, read from
 * `/sys/class/infiniband/DEVICE/ports/N/gid_attrs/ndevs/*` (RoCE). Undefined when there is none
 * (no RDMA device, or InfiniBand without IP over it). Loads no library.
 */
export function rdmaInterfaceAddress(): string | undefined {
  const root = '/sys/class/infiniband';
  const netdevs = new Set<string>();
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const device of list(root)) {
    for (const port of list(`${root}/${device}/ports`)) {
      const ndevs = `${root}/${device}/ports/${port}/gid_attrs/ndevs`;
      for (const index of list(ndevs)) {
        try {
          const name = readFileSync(`${ndevs}/${index}`, 'utf8').trim();
          if (name !== '') netdevs.add(name);
        } catch {
          // an unused GID slot reads as an error
        }
      }
    }
  }
  const addresses = [...netdevs].flatMap((name) => (networkInterfaces()[name] ?? []).filter((a) => !a.internal));
  const chosen = addresses.find((a) => a.family === 'IPv4') ?? addresses.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80'));
  return chosen?.address;
}
