/**
 * libibverbs, librdmacm and the few libc calls of the RDMA binding (spec §11.2), loaded through
 * koffi, with the device check of "No device" (§11.2): {@link loadVerbs} either returns the
 * functions or throws `NO_DEVICE` saying exactly what is missing (the libraries, kernel support,
 * a device) — it never crashes the process.
 *
 * Exported functions are declared from the rdma-core 44 prototypes (`<infiniband/verbs.h>`,
 * `<rdma/rdma_cma.h>`). The data-path verbs `ibv_post_send`, `ibv_post_recv`, `ibv_poll_cq` and
 * `ibv_req_notify_cq` are `static inline` in verbs.h (not in the .so): they call the provider
 * through `context->ops`, and so does {@link contextOps}.
 *
 * Pointers are BigInt addresses (koffi 3), `null` for NULL.
 *
 * @module
 */
import { constants as osConstants } from 'node:os';
import koffi from 'koffi';
import type { LibraryHandle, TypeObject } from 'koffi';
import { RebindError } from '../../errors.js';
import { IbvContext, IbvQpInitAttr, RdmaConnParam } from './abi.js';

/** A C pointer: a BigInt address, or null for NULL. */
export type Pointer = bigint | null;

/** `struct ibv_qp_init_attr` as koffi reads and writes it. */
export interface QpInitAttr {
  qp_context: Pointer;
  send_cq: Pointer;
  recv_cq: Pointer;
  srq: Pointer;
  cap: { max_send_wr: number; max_recv_wr: number; max_send_sge: number; max_recv_sge: number; max_inline_data: number };
  qp_type: number;
  sq_sig_all: number;
}

/** `struct rdma_conn_param`. */
export interface ConnParam {
  private_data: Pointer;
  private_data_len: number;
  responder_resources: number;
  initiator_depth: number;
  flow_control: number;
  retry_count: number;
  rnr_retry_count: number;
  srq: number;
  qp_num: number;
}

/** A koffi function whose blocking call can also run on a worker thread. */
export interface AsyncCapable<A extends unknown[], R> {
  (...args: A): R;
  async(...args: [...A, (error: unknown, result: R) => void]): void;
}

/** The functions of the three libraries (names as in C). */
export interface Verbs {
  // libibverbs (verbs.h)
  ibv_alloc_pd(context: bigint): Pointer;
  ibv_dealloc_pd(pd: bigint): number;
  ibv_reg_mr(pd: bigint, addr: bigint, length: number, access: number): Pointer;
  ibv_dereg_mr(mr: bigint): number;
  ibv_create_comp_channel(context: bigint): Pointer;
  ibv_destroy_comp_channel(channel: bigint): number;
  ibv_create_cq(context: bigint, cqe: number, cqContext: Pointer, channel: Pointer, compVector: number): Pointer;
  ibv_destroy_cq(cq: bigint): number;
  /** `cq` and `cqContext` are one-element out arrays. */
  ibv_get_cq_event(channel: bigint, cq: Pointer[], cqContext: Pointer[]): number;
  ibv_ack_cq_events(cq: bigint, count: number): void;
  ibv_wc_status_str(status: number): string;
  // librdmacm (rdma_cma.h)
  rdma_create_event_channel(): Pointer;
  rdma_destroy_event_channel(channel: bigint): void;
  /** `id` is a one-element out array. */
  rdma_create_id(channel: bigint, id: Pointer[], context: Pointer, ps: number): number;
  rdma_destroy_id(id: bigint): number;
  rdma_bind_addr(id: bigint, addr: Uint8Array): number;
  rdma_resolve_addr(id: bigint, src: Uint8Array | null, dst: Uint8Array, timeoutMs: number): number;
  rdma_resolve_route(id: bigint, timeoutMs: number): number;
  rdma_create_qp(id: bigint, pd: bigint, attr: QpInitAttr): number;
  rdma_destroy_qp(id: bigint): void;
  rdma_connect(id: bigint, param: ConnParam): number;
  rdma_listen(id: bigint, backlog: number): number;
  rdma_accept(id: bigint, param: ConnParam): number;
  rdma_reject(id: bigint, privateData: Pointer, length: number): number;
  rdma_disconnect(id: bigint): number;
  /** `event` is a one-element out array. */
  rdma_get_cm_event(channel: bigint, event: Pointer[]): number;
  rdma_ack_cm_event(event: bigint): number;
  rdma_event_str(event: number): string;
  // libc
  poll: AsyncCapable<[fds: bigint, count: number, timeoutMs: number], number>;
  eventfd(initial: number, flags: number): number;
  fcntl(fd: number, command: number, ...variadic: unknown[]): number;
  write(fd: number, buffer: Uint8Array, length: number): number;
  read(fd: number, buffer: Uint8Array, length: number): number;
  close(fd: number): number;
}

/** The inline verbs of one `struct ibv_context`, called through its `ops` table (verbs.h). */
export interface ContextOps {
  /** `ibv_poll_cq(cq, n, wc)`: completions written to `wc`, their count, or < 0 on error. */
  pollCq(cq: bigint, entries: number, wc: bigint): number;
  /** `ibv_req_notify_cq(cq, solicited_only)`: arm the CQ for one completion event. */
  reqNotifyCq(cq: bigint, solicitedOnly: number): number;
  /** `ibv_post_send(qp, wr, &bad_wr)`: 0 or an errno value. */
  postSend(qp: bigint, wr: bigint, badWr: bigint): number;
  /** `ibv_post_recv(qp, wr, &bad_wr)`: 0 or an errno value. */
  postRecv(qp: bigint, wr: bigint, badWr: bigint): number;
}

/** What {@link rdmaAvailability} found. */
export type Availability = { readonly ok: true; readonly devices: readonly string[] } | { readonly ok: false; readonly error: RebindError };

const SECTION = '11.2';
let loaded: { verbs: Verbs; devices: string[] } | RebindError | undefined;

/** `ENOSYS (38)`: the name of an errno value, for messages. */
export function errnoName(errno: number): string {
  const name = Object.entries(osConstants.errno).find(([, value]) => value === errno)?.[0];
  return `${name ?? 'errno'} (${errno})`;
}

/** The errno of the last failed call on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}

function noDevice(message: string, detail: Record<string, unknown>, cause?: unknown): RebindError {
  return new RebindError('NO_DEVICE', message, { section: SECTION, detail, cause });
}

function loadLibrary(name: string, pkg: string): LibraryHandle {
  try {
    return koffi.load(name);
  } catch (error) {
    throw noDevice(`the RDMA transport needs ${name}, which cannot be loaded (install ${pkg}): ${(error as Error).message}`, { library: name }, error);
  }
}

function declare(): Verbs {
  const ibv = loadLibrary('libibverbs.so.1', "rdma-core's libibverbs1");
  const cm = loadLibrary('librdmacm.so.1', "rdma-core's librdmacm1");
  const libc = loadLibrary('libc.so.6', 'glibc');
  const f = (lib: LibraryHandle, definition: string) => lib.func(definition);
  return {
    ibv_alloc_pd: f(ibv, 'void *ibv_alloc_pd(void *context)'),
    ibv_dealloc_pd: f(ibv, 'int ibv_dealloc_pd(void *pd)'),
    ibv_reg_mr: f(ibv, 'void *ibv_reg_mr(void *pd, void *addr, size_t length, int access)'),
    ibv_dereg_mr: f(ibv, 'int ibv_dereg_mr(void *mr)'),
    ibv_create_comp_channel: f(ibv, 'void *ibv_create_comp_channel(void *context)'),
    ibv_destroy_comp_channel: f(ibv, 'int ibv_destroy_comp_channel(void *channel)'),
    ibv_create_cq: f(ibv, 'void *ibv_create_cq(void *context, int cqe, void *cq_context, void *channel, int comp_vector)'),
    ibv_destroy_cq: f(ibv, 'int ibv_destroy_cq(void *cq)'),
    ibv_get_cq_event: f(ibv, 'int ibv_get_cq_event(void *channel, _Out_ void **cq, _Out_ void **cq_context)'),
    ibv_ack_cq_events: f(ibv, 'void ibv_ack_cq_events(void *cq, unsigned int nevents)'),
    ibv_wc_status_str: f(ibv, 'const char *ibv_wc_status_str(int status)'),
    rdma_create_event_channel: f(cm, 'void *rdma_create_event_channel(void)'),
    rdma_destroy_event_channel: f(cm, 'void rdma_destroy_event_channel(void *channel)'),
    rdma_create_id: f(cm, 'int rdma_create_id(void *channel, _Out_ void **id, void *context, int ps)'),
    rdma_destroy_id: f(cm, 'int rdma_destroy_id(void *id)'),
    rdma_bind_addr: f(cm, 'int rdma_bind_addr(void *id, void *addr)'),
    rdma_resolve_addr: f(cm, 'int rdma_resolve_addr(void *id, void *src_addr, void *dst_addr, int timeout_ms)'),
    rdma_resolve_route: f(cm, 'int rdma_resolve_route(void *id, int timeout_ms)'),
    rdma_create_qp: cm.func('rdma_create_qp', 'int', ['void *', 'void *', koffi.inout(koffi.pointer(IbvQpInitAttr))]),
    rdma_destroy_qp: f(cm, 'void rdma_destroy_qp(void *id)'),
    rdma_connect: cm.func('rdma_connect', 'int', ['void *', koffi.pointer(RdmaConnParam)]),
    rdma_listen: f(cm, 'int rdma_listen(void *id, int backlog)'),
    rdma_accept: cm.func('rdma_accept', 'int', ['void *', koffi.pointer(RdmaConnParam)]),
    rdma_reject: f(cm, 'int rdma_reject(void *id, void *private_data, uint8_t private_data_len)'),
    rdma_disconnect: f(cm, 'int rdma_disconnect(void *id)'),
    rdma_get_cm_event: f(cm, 'int rdma_get_cm_event(void *channel, _Out_ void **event)'),
    rdma_ack_cm_event: f(cm, 'int rdma_ack_cm_event(void *event)'),
    rdma_event_str: f(cm, 'const char *rdma_event_str(int event)'),
    poll: f(libc, 'int poll(void *fds, unsigned long nfds, int timeout)') as unknown as Verbs['poll'],
    eventfd: f(libc, 'int eventfd(unsigned int initval, int flags)'),
    fcntl: f(libc, 'int fcntl(int fd, int cmd, ...)'),
    write: f(libc, 'long write(int fd, void *buf, size_t count)'),
    read: f(libc, 'long read(int fd, _Out_ void *buf, size_t count)'),
    close: f(libc, 'int close(int fd)'),
  };
}

/** Lists the devices libibverbs sees; throws `NO_DEVICE` when there are none (§11.2). */
function listDevices(ibv: LibraryHandle): string[] {
  const getList = ibv.func('void *ibv_get_device_list(_Out_ int *num_devices)');
  const freeList = ibv.func('void ibv_free_device_list(void *list)');
  const deviceName = ibv.func('const char *ibv_get_device_name(void *device)');
  const count = [0];
  const list = getList(count) as Pointer;
  if (list === null) {
    const errno = koffi.errno();
    // Without ib_uverbs (no RDMA in the kernel) libibverbs answers ENOSYS.
    throw noDevice(
      `no RDMA device: ibv_get_device_list failed with ${errnoName(errno)}` +
        (errno === osConstants.errno.ENOSYS ? ' — this kernel has no RDMA support loaded (ib_uverbs; for soft-RoCE: modprobe rdma_rxe)' : ''),
      { errno },
    );
  }
  try {
    const names: string[] = [];
    for (let i = 0; i < (count[0] as number); i++) {
      const device = koffi.decode(list, i * 8, 'void *') as Pointer;
      if (device !== null) names.push(deviceName(device) as string);
    }
    if (names.length === 0) {
      throw noDevice(
        'no RDMA device: libibverbs found none (no HCA and no soft-RoCE link; for soft-RoCE: modprobe rdma_rxe; rdma link add rxe0 type rxe netdev IFACE)',
        { errno: 0 },
      );
    }
    return names;
  } finally {
    freeList(list);
  }
}

/**
 * The verbs, loaded once per process.
 *
 * @throws RebindError `NO_DEVICE` (§11.2) when libibverbs or librdmacm cannot be loaded, or no
 *   RDMA device exists; the message says which.
 */
export function loadVerbs(): Verbs {
  if (loaded === undefined) {
    try {
      const verbs = declare();
      const devices = listDevices(koffi.load('libibverbs.so.1'));
      loaded = { verbs, devices };
    } catch (error) {
      loaded = error instanceof RebindError ? error : noDevice(`the RDMA libraries cannot be used: ${(error as Error).message}`, {}, error);
    }
  }
  if (loaded instanceof RebindError) throw loaded;
  return loaded.verbs;
}

/** Whether this process can use RDMA: the device names, or the `NO_DEVICE` error saying why not. */
export function rdmaAvailability(): Availability {
  try {
    loadVerbs();
    return { ok: true, devices: (loaded as { devices: string[] }).devices };
  } catch (error) {
    return { ok: false, error: error as RebindError };
  }
}

// ---------------------------------------------------------------------------------------------
// Inline verbs through `ibv_context.ops` (verbs.h).

const PollCq = koffi.proto('int ibv_poll_cq_fn(void *cq, int num_entries, void *wc)');
const ReqNotifyCq = koffi.proto('int ibv_req_notify_cq_fn(void *cq, int solicited_only)');
const PostSend = koffi.proto('int ibv_post_send_fn(void *qp, void *wr, void *bad_wr)');
const PostRecv = koffi.proto('int ibv_post_recv_fn(void *qp, void *wr, void *bad_wr)');
const opsCache = new Map<bigint, ContextOps>();

function opAt(context: bigint, member: string, proto: TypeObject): (...args: unknown[]) => number {
  const offset = (IbvContext.members?.ops?.offset ?? 0) + (IbvContext.members?.ops?.type.members?.[member]?.offset ?? -1);
  const fn = koffi.decode(context, offset, 'void *') as Pointer;
  if (fn === null) {
    throw new RebindError('NO_DEVICE', `the RDMA provider has no ${member} entry point`, { section: SECTION, detail: { member } });
  }
  return koffi.decode(fn, proto) as (...args: unknown[]) => number;
}

/** The data-path verbs of one device context (`struct ibv_context *`), cached per context. */
export function contextOps(context: bigint): ContextOps {
  let ops = opsCache.get(context);
  if (ops === undefined) {
    const pollCq = opAt(context, 'poll_cq', PollCq);
    const reqNotifyCq = opAt(context, 'req_notify_cq', ReqNotifyCq);
    const postSend = opAt(context, 'post_send', PostSend);
    const postRecv = opAt(context, 'post_recv', PostRecv);
    ops = {
      pollCq: (cq, entries, wc) => pollCq(cq, entries, wc),
      reqNotifyCq: (cq, solicitedOnly) => reqNotifyCq(cq, solicitedOnly),
      postSend: (qp, wr, badWr) => postSend(qp, wr, badWr),
      postRecv: (qp, wr, badWr) => postRecv(qp, wr, badWr),
    };
    opsCache.set(context, ops);
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// Memory.

/** Reads a pointer field of a C struct at `address + offset`. */
export function readPointer(address: bigint, offset: number): Pointer {
  return koffi.decode(address, offset, 'void *') as Pointer;
}

/** Reads an `int` / `uint32_t` field. */
export function readInt32(address: bigint, offset: number): number {
  return koffi.decode(address, offset, 'int32_t') as number;
}
export function readUint32(address: bigint, offset: number): number {
  return koffi.decode(address, offset, 'uint32_t') as number;
}

/** A copy of `length` bytes at `address` (library-owned memory, e.g. a sockaddr in an rdma_cm_id). */
export function readBytes(address: bigint, offset: number, length: number): Uint8Array {
  return new Uint8Array(koffi.view(address + BigInt(offset), length)).slice();
}

/**
 * Memory that never moves (for memory regions and the structs passed to the provider): a
 * `koffi.alloc` block and a zero-copy view over it. Free it exactly once, after the last use of
 * the view and after the HCA is done with it (the MR deregistered).
 */
export class NativeMemory {
  readonly address: bigint;
  readonly length: number;
  /** Zero-copy bytes of the block. */
  readonly bytes: Uint8Array;
  /** The same bytes, for little-endian field access. */
  readonly view: DataView;
  #freed = false;

  constructor(length: number) {
    this.length = length;
    const address = koffi.alloc('uint8_t', length) as Pointer;
    if (address === null) throw new RangeError(`cannot allocate ${length} bytes`);
    this.address = address;
    const buffer = koffi.view(address, length);
    this.bytes = new Uint8Array(buffer);
    this.bytes.fill(0);
    this.view = new DataView(buffer);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    koffi.free(this.address);
  }
}
