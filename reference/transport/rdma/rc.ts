/**
 * Reliable connected queue pairs through rdma_cm (spec §11.2): the layer under the frame
 * connection. An {@link RcEndpoint} is one RC QP with its own completion queue, a block of
 * registered receive buffers (all posted **before** connecting or accepting, §11.2 "Receive
 * buffers") and a few registered send slots; it knows nothing of frames or credits.
 *
 * Per process there is one rdma_cm event channel ({@link RcStack}), and per device context
 * (`struct ibv_context`, shared by rdma_cm) one protection domain and one completion channel that
 * all CQs of that device report to. Both channels' fds are watched by the {@link Reactor}.
 *
 * Completions: when the completion channel is readable, each CQ event is fetched with
 * `ibv_get_cq_event` (non-blocking fd) and acknowledged at once, the CQ is re-armed
 * (`ibv_req_notify_cq`) and then drained with `ibv_poll_cq` — re-arming before draining so that a
 * completion arriving in between raises a new event.
 *
 * Lost (§11.2): `RDMA_CM_EVENT_DISCONNECTED` ends an endpoint without error (after the
 * completions already queued are handed over); a completion with an error status, or a device
 * removal, ends it with `TRANSPORT_FAILED`; a failed address/route resolution or connect is
 * `UNREACHABLE`.
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import koffi from 'koffi';
import { RebindError } from '../../errors.js';
import {
  AF_INET,
  AF_INET6,
  CmEvent,
  IBV_ACCESS_LOCAL_WRITE,
  IBV_QPT_RC,
  IBV_SEND_SIGNALED,
  IBV_WR_SEND,
  IbvCompChannel,
  IbvMr,
  IbvQp,
  IbvRecvWr,
  IbvSendWr,
  IbvSge,
  IbvWc,
  RDMA_PS_TCP,
  RdmaCmEvent,
  RdmaCmId,
  RdmaEventChannel,
  WcStatus,
  offsetOf,
} from './abi.js';
import { getReactor, setNonBlocking, type Reactor } from './reactor.js';
import {
  NativeMemory,
  contextOps,
  errnoName,
  lastErrno,
  loadVerbs,
  readBytes,
  readInt32,
  readPointer,
  readUint32,
  type ConnParam,
  type ContextOps,
  type Pointer,
  type Verbs,
} from './verbs.js';

const SECTION = '11.2';

// Offsets of the fields read or written here (abi.ts; checked by the layout test).
const COMP_CHANNEL_FD = offsetOf(IbvCompChannel, 'fd');
const EVENT_CHANNEL_FD = offsetOf(RdmaEventChannel, 'fd');
const MR_LKEY = offsetOf(IbvMr, 'lkey');
const QP_NUM = offsetOf(IbvQp, 'qp_num');
const ID_VERBS = offsetOf(RdmaCmId, 'verbs');
const ID_QP = offsetOf(RdmaCmId, 'qp');
const ID_SRC_ADDR = offsetOf(RdmaCmId, 'route.addr.src_addr');
const ID_DST_ADDR = offsetOf(RdmaCmId, 'route.addr.dst_addr');
const EV_ID = offsetOf(RdmaCmEvent, 'id');
const EV_LISTEN_ID = offsetOf(RdmaCmEvent, 'listen_id');
const EV_EVENT = offsetOf(RdmaCmEvent, 'event');
const EV_STATUS = offsetOf(RdmaCmEvent, 'status');
const SGE_SIZE = koffi.sizeof(IbvSge);
const SGE_ADDR = offsetOf(IbvSge, 'addr');
const SGE_LENGTH = offsetOf(IbvSge, 'length');
const SGE_LKEY = offsetOf(IbvSge, 'lkey');
const RECV_WR_SIZE = koffi.sizeof(IbvRecvWr);
const SEND_WR_SIZE = koffi.sizeof(IbvSendWr);
const WC_SIZE = koffi.sizeof(IbvWc);
const WC_WR_ID = offsetOf(IbvWc, 'wr_id');
const WC_STATUS = offsetOf(IbvWc, 'status');
const WC_BYTE_LEN = offsetOf(IbvWc, 'byte_len');

/** Completions fetched per `ibv_poll_cq` call. */
const WC_BATCH = 16;
/** `wr_id` of a SEND: this bit plus the slot; of a RECV: the buffer index. */
const SEND_TAG = 0x8000_0000;
/** rdma_resolve_addr / rdma_resolve_route time limit. */
const RESOLVE_MS = 5000;
/** Smallest send slot. */
const MIN_SEND_SLOT = 4096;

/** Sizes of an endpoint's buffers. */
export interface RcOptions {
  /** Receive buffers, all posted before connect/accept (§11.2). */
  readonly recvCount: number;
  /** Bytes per receive buffer: the largest message this end accepts (a frame: maxPayload + 8). */
  readonly recvSize: number;
  /** Send slots: at most this many SENDs in flight. */
  readonly sendCount: number;
}

/** What an endpoint reports. Called on the JS thread, from the reactor. */
export interface RcHandlers {
  /** The connection is up (after `rdma_accept`/`rdma_connect`, `RDMA_CM_EVENT_ESTABLISHED`). */
  onEstablished?(): void;
  /** Receive buffer `index` holds a message of `length` bytes; repost it with `postRecv(index)`. */
  onReceive(index: number, length: number): void;
  /** Send slot `slot` is free again (its SEND completed). */
  onSendComplete(slot: number): void;
  /** The endpoint is gone: disconnected (no error) or failed. Called once. */
  onClose(error?: RebindError): void;
}

/** One device context's shared resources: protection domain, completion channel, ops table. */
interface Device {
  readonly context: bigint;
  readonly pd: bigint;
  readonly compChannel: bigint;
  readonly fd: number;
  readonly ops: ContextOps;
  /** CQ → endpoint, to route completion events. */
  readonly cqs: Map<bigint, RcEndpoint>;
}

/** A registered memory block. */
interface Region {
  readonly memory: NativeMemory;
  readonly mr: bigint;
  readonly lkey: number;
}

/** Formats an IP and port as `rdma://IP:PORT` (§3.2). */
export function rdmaAddress(host: string, port: number): string {
  return `rdma://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A `struct sockaddr_in` or `sockaddr_in6` for an IP literal. */
export function sockaddr(ip: string, port: number): Uint8Array {
  const family = isIP(ip);
  if (family === 4) {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port); // network byte order
    ip.split('.').forEach((part, i) => (bytes[4 + i] = Number(part)));
    return bytes;
  }
  if (family === 6) {
    const bytes = new Uint8Array(28);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, port);
    const [address = ''] = ip.split('%'); // a zone id is not supported
    const halves = address.split('::');
    const groups = (text: string | undefined): number[] => (text === undefined || text === '' ? [] : text.split(':').flatMap(ipv6Group));
    const head = groups(halves[0]);
    const tail = groups(halves[1]);
    const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
    all.forEach((group, i) => view.setUint16(8 + i * 2, group));
    return bytes;
  }
  throw new RebindError('INVALID_ARGUMENT', `not an IP address: ${ip}`, { section: '3.2', detail: { host: ip } });
}

/** One IPv6 group, or two for an embedded IPv4 tail (`::ffff:10.0.0.1`). */
function ipv6Group(text: string): number[] {
  if (text.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = text.split('.').map(Number);
    return [(a << 8) | b, (c << 8) | d];
  }
  return [parseInt(text, 16)];
}

/** Reads a `struct sockaddr` (IPv4 or IPv6) as host and port. */
export function parseSockaddr(bytes: Uint8Array): { host: string; port: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2);
  if (family === AF_INET) return { host: [...bytes.subarray(4, 8)].join('.'), port };
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(view.getUint16(8 + i * 2).toString(16));
    const text = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
    return { host: text, port };
  }
  return { host: '?', port: 0 };
}

// ---------------------------------------------------------------------------------------------
// The per-process stack.

/** The rdma_cm event channel, the device contexts and the scratch structs of the data path. */
export class RcStack {
  readonly verbs: Verbs;
  readonly reactor: Reactor;
  readonly #channel: bigint;
  readonly #channelFd: number;
  /** rdma_cm_id → the handler of its events. */
  readonly #ids = new Map<bigint, (event: CmEvent, status: number, id: bigint) => void>();
  readonly #devices = new Map<bigint, Device>();
  /** Scratch `ibv_send_wr` + `ibv_sge`, `ibv_recv_wr` + `ibv_sge`, `bad_wr`, and the `ibv_wc` batch. */
  readonly sendWr: NativeMemory;
  readonly recvWr: NativeMemory;
  readonly badWr: NativeMemory;
  readonly wc: NativeMemory;

  constructor() {
    this.verbs = loadVerbs();
    this.reactor = getReactor(this.verbs);
    const channel = this.verbs.rdma_create_event_channel();
    if (channel === null) {
      const errno = lastErrno();
      throw new RebindError('NO_DEVICE', `rdma_cm is not available: rdma_create_event_channel failed with ${errnoName(errno)} (is rdma_ucm loaded, /dev/infiniband/rdma_cm present?)`, {
        section: SECTION,
        detail: { errno },
      });
    }
    this.#channel = channel;
    this.#channelFd = readInt32(channel, EVENT_CHANNEL_FD);
    setNonBlocking(this.verbs, this.#channelFd);
    this.sendWr = new NativeMemory(SEND_WR_SIZE + SGE_SIZE);
    this.recvWr = new NativeMemory(RECV_WR_SIZE + SGE_SIZE);
    this.badWr = new NativeMemory(8);
    this.wc = new NativeMemory(WC_BATCH * WC_SIZE);
    // The WRs point at their own SGE, one element each; the rest of each WR stays zero.
    const send = this.sendWr.view;
    send.setBigUint64(offsetOf(IbvSendWr, 'sg_list'), this.sendWr.address + BigInt(SEND_WR_SIZE), true);
    send.setInt32(offsetOf(IbvSendWr, 'num_sge'), 1, true);
    send.setInt32(offsetOf(IbvSendWr, 'opcode'), IBV_WR_SEND, true);
    send.setUint32(offsetOf(IbvSendWr, 'send_flags'), IBV_SEND_SIGNALED, true);
    const recv = this.recvWr.view;
    recv.setBigUint64(offsetOf(IbvRecvWr, 'sg_list'), this.recvWr.address + BigInt(RECV_WR_SIZE), true);
    recv.setInt32(offsetOf(IbvRecvWr, 'num_sge'), 1, true);
  }

  /** Creates an rdma_cm_id on the process's channel (RDMA_PS_TCP: an RC QP). */
  createId(handler: (event: CmEvent, status: number, id: bigint) => void): bigint {
    const out: Pointer[] = [null];
    const id = this.verbs.rdma_create_id(this.#channel, out, null, RDMA_PS_TCP) === 0 ? out[0] : null;
    if (id === null || id === undefined) throw this.failure('UNREACHABLE', 'rdma_create_id');
    this.track(id, handler);
    return id;
  }

  /** Routes the events of `id` (an id from a CONNECT_REQUEST) to `handler`. */
  track(id: bigint, handler: (event: CmEvent, status: number, id: bigint) => void): void {
    this.#ids.set(id, handler);
    if (this.#ids.size === 1) this.reactor.watch(this.#channelFd, () => this.#onCmEvents(), 1);
  }

  /** `rdma_destroy_id` (after the QP is gone); its later events are dropped by rdma_cm. */
  destroyId(id: bigint): void {
    this.#ids.delete(id);
    this.verbs.rdma_destroy_id(id);
    if (this.#ids.size === 0) this.reactor.unwatch(this.#channelFd);
  }

  /** A RebindError for a failed call, with its errno. */
  failure(name: 'UNREACHABLE' | 'TRANSPORT_FAILED', call: string, errno = lastErrno()): RebindError {
    return new RebindError(name, `${call} failed: ${errnoName(errno)}`, { section: SECTION, detail: { call, errno } });
  }

  /** Drains the rdma_cm event channel (non-blocking): each event is read, acknowledged, then routed. */
  #onCmEvents(): void {
    const out: Pointer[] = [null];
    for (;;) {
      const event = this.verbs.rdma_get_cm_event(this.#channel, out) === 0 ? out[0] : null;
      if (event === null || event === undefined) return; // EAGAIN: drained
      const id = readPointer(event, EV_ID) as bigint;
      const listenId = readPointer(event, EV_LISTEN_ID);
      const type = readInt32(event, EV_EVENT) as CmEvent;
      const status = readInt32(event, EV_STATUS);
      this.verbs.rdma_ack_cm_event(event); // before routing: rdma_destroy_id waits for unacknowledged events
      const owner = type === CmEvent.CONNECT_REQUEST && listenId !== null ? listenId : id;
      const handler = this.#ids.get(owner);
      if (handler !== undefined) handler(type, status, id);
      else if (type === CmEvent.CONNECT_REQUEST) {
        this.verbs.rdma_reject(id, null, 0); // the listener is gone
        this.verbs.rdma_destroy_id(id);
      }
    }
  }

  /** The shared resources of a device context, created on first use. */
  device(context: bigint): Device {
    let device = this.#devices.get(context);
    if (device !== undefined) return device;
    const pd = this.verbs.ibv_alloc_pd(context);
    if (pd === null) throw this.failure('TRANSPORT_FAILED', 'ibv_alloc_pd');
    const compChannel = this.verbs.ibv_create_comp_channel(context);
    if (compChannel === null) {
      const error = this.failure('TRANSPORT_FAILED', 'ibv_create_comp_channel');
      this.verbs.ibv_dealloc_pd(pd);
      throw error;
    }
    const fd = readInt32(compChannel, COMP_CHANNEL_FD);
    setNonBlocking(this.verbs, fd);
    device = { context, pd, compChannel, fd, ops: contextOps(context), cqs: new Map() };
    this.#devices.set(context, device);
    return device;
  }

  /** Routes a CQ's completion events to its endpoint (watching the channel while it has CQs). */
  addCq(device: Device, cq: bigint, endpoint: RcEndpoint): void {
    device.cqs.set(cq, endpoint);
    if (device.cqs.size === 1) this.reactor.watch(device.fd, () => this.#onCqEvents(device), 0);
  }

  removeCq(device: Device, cq: bigint): void {
    if (device.cqs.delete(cq) && device.cqs.size === 0) this.reactor.unwatch(device.fd);
  }

  /** Drains a completion channel (non-blocking): each CQ event is acknowledged and its CQ drained. */
  #onCqEvents(device: Device): void {
    const cq: Pointer[] = [null];
    const cqContext: Pointer[] = [null];
    for (;;) {
      const got = this.verbs.ibv_get_cq_event(device.compChannel, cq, cqContext) === 0 ? cq[0] : null;
      if (got === null || got === undefined) return; // EAGAIN: drained
      this.verbs.ibv_ack_cq_events(got, 1); // at once: ibv_destroy_cq waits for every event to be acknowledged
      device.cqs.get(got)?.onCqEvent();
    }
  }
}

let stack: RcStack | undefined;

/**
 * The process's RDMA stack, created on first use.
 *
 * @throws RebindError `NO_DEVICE` (§11.2) without libraries, device or rdma_cm.
 */
export function getStack(): RcStack {
  stack ??= new RcStack();
  return stack;
}

// ---------------------------------------------------------------------------------------------
// Endpoints.

type State = 'connecting' | 'established' | 'closing' | 'closed';

/** See the module comment. Made by {@link rcConnect} or an {@link RcListener}. */
export class RcEndpoint {
  readonly #stack: RcStack;
  readonly #options: RcOptions;
  readonly #id: bigint;
  #handlers: RcHandlers;
  #state: State = 'connecting';
  #device: Device | undefined;
  #cq: bigint | null = null;
  #qp: bigint | null = null;
  #qpNum = 0;
  #recv: Region | undefined;
  readonly #recvStride: number;
  #send: (Region | undefined)[] = [];
  #sendBusy: boolean[] = [];
  #release: (() => void) | undefined;
  #localAddress = 'rdma://?:0';
  #remoteAddress = 'rdma://?:0';
  /** Set while the endpoint is connecting (rcConnect): the outcome of the handshake. */
  onConnectEvent: ((event: CmEvent, status: number) => void) | undefined;

  /** @internal Use {@link rcConnect} or {@link rcListen}. */
  constructor(stack: RcStack, id: bigint, options: RcOptions, handlersFor: (endpoint: RcEndpoint) => RcHandlers) {
    this.#stack = stack;
    this.#id = id;
    this.#options = options;
    this.#recvStride = Math.ceil(options.recvSize / 64) * 64;
    this.#release = stack.reactor.hold();
    stack.track(id, (event, status) => this.#onCmEvent(event, status));
    this.#handlers = { onReceive: () => {}, onSendComplete: () => {}, onClose: () => {} };
    this.#handlers = handlersFor(this);
  }

  get localAddress(): string {
    return this.#localAddress;
  }

  get remoteAddress(): string {
    return this.#remoteAddress;
  }

  /** The QP number (for messages and tests). */
  get qpNum(): number {
    return this.#qpNum;
  }

  get state(): State {
    return this.#state;
  }

  get options(): RcOptions {
    return this.#options;
  }

  set handlers(handlers: RcHandlers) {
    this.#handlers = handlers;
  }

  /** Whether this endpoint keeps the process alive (default true). */
  setKeepAlive(keep: boolean): void {
    if (keep && this.#release === undefined && this.#state !== 'closed') this.#release = this.#stack.reactor.hold();
    if (!keep) {
      this.#release?.();
      this.#release = undefined;
    }
  }

  /**
   * Creates the CQ, the memory regions and the QP on the id's device and posts every receive
   * buffer (§11.2: before connecting or accepting).
   *
   * @internal
   */
  setUp(): void {
    const verbs = this.#stack.verbs;
    const context = readPointer(this.#id, ID_VERBS);
    if (context === null) throw new RebindError('UNREACHABLE', 'the rdma_cm id has no device (address not resolved)', { section: SECTION });
    const device = this.#stack.device(context);
    this.#device = device;
    const { recvCount, sendCount } = this.#options;
    const cq = verbs.ibv_create_cq(context, recvCount + sendCount + 1, null, device.compChannel, 0);
    if (cq === null) throw this.#stack.failure('TRANSPORT_FAILED', 'ibv_create_cq');
    this.#cq = cq;
    this.#stack.addCq(device, cq, this);
    if (device.ops.reqNotifyCq(cq, 0) !== 0) throw this.#stack.failure('TRANSPORT_FAILED', 'ibv_req_notify_cq');
    this.#recv = this.#register(recvCount * this.#recvStride);
    this.#send = new Array<Region | undefined>(sendCount).fill(undefined);
    this.#sendBusy = new Array<boolean>(sendCount).fill(false);
    const attr = {
      qp_context: null,
      send_cq: cq,
      recv_cq: cq,
      srq: null,
      cap: { max_send_wr: sendCount, max_recv_wr: recvCount, max_send_sge: 1, max_recv_sge: 1, max_inline_data: 0 },
      qp_type: IBV_QPT_RC,
      sq_sig_all: 0,
    };
    if (verbs.rdma_create_qp(this.#id, device.pd, attr) !== 0) throw this.#stack.failure('TRANSPORT_FAILED', 'rdma_create_qp');
    this.#qp = readPointer(this.#id, ID_QP);
    if (this.#qp === null) throw new RebindError('TRANSPORT_FAILED', 'rdma_create_qp left no QP', { section: SECTION });
    this.#qpNum = readUint32(this.#qp, QP_NUM);
    for (let i = 0; i < recvCount; i++) this.postRecv(i);
  }

  /** Allocates and registers `length` bytes. */
  #register(length: number): Region {
    const memory = new NativeMemory(length);
    const mr = this.#stack.verbs.ibv_reg_mr((this.#device as Device).pd, memory.address, length, IBV_ACCESS_LOCAL_WRITE);
    if (mr === null) {
      const error = this.#stack.failure('TRANSPORT_FAILED', `ibv_reg_mr(${length} bytes)`);
      memory.free();
      throw error;
    }
    return { memory, mr, lkey: readUint32(mr, MR_LKEY) };
  }

  #deregister(region: Region | undefined): void {
    if (region === undefined) return;
    this.#stack.verbs.ibv_dereg_mr(region.mr);
    region.memory.free();
  }

  /** The bytes of receive buffer `index` (a zero-copy view of registered memory; valid until close). */
  recvBuffer(index: number): Uint8Array {
    const start = index * this.#recvStride;
    return (this.#recv as Region).memory.bytes.subarray(start, start + this.#options.recvSize);
  }

  /** Posts receive buffer `index` (`ibv_post_recv`). Does nothing once closing. */
  postRecv(index: number): void {
    if (this.#qp === null || this.#state === 'closing' || this.#state === 'closed') return;
    const recv = this.#recv as Region;
    const wr = this.#stack.recvWr.view;
    wr.setUint32(0, index, true); // wr_id (low half; the high half stays 0)
    wr.setBigUint64(RECV_WR_SIZE + SGE_ADDR, recv.memory.address + BigInt(index * this.#recvStride), true);
    wr.setUint32(RECV_WR_SIZE + SGE_LENGTH, this.#options.recvSize, true);
    wr.setUint32(RECV_WR_SIZE + SGE_LKEY, recv.lkey, true);
    const rc = (this.#device as Device).ops.postRecv(this.#qp, this.#stack.recvWr.address, this.#stack.badWr.address);
    if (rc !== 0) this.#fail(this.#stack.failure('TRANSPORT_FAILED', 'ibv_post_recv', rc));
  }

  /**
   * A free send slot able to hold `size` bytes (grown and re-registered if needed), or undefined
   * when every slot has a SEND in flight.
   */
  acquireSendSlot(size: number): number | undefined {
    const slot = this.#sendBusy.indexOf(false);
    if (slot < 0) return undefined;
    const region = this.#send[slot];
    if (region === undefined || region.memory.length < size) {
      this.#deregister(region);
      this.#send[slot] = undefined;
      let capacity = MIN_SEND_SLOT;
      while (capacity < size) capacity *= 2;
      this.#send[slot] = this.#register(capacity);
    }
    return slot;
  }

  /** The bytes of send slot `slot` (its whole capacity). */
  sendBuffer(slot: number): Uint8Array {
    return (this.#send[slot] as Region).memory.bytes;
  }

  /** Posts a signaled SEND of the first `length` bytes of slot `slot` (`ibv_post_send`). */
  postSend(slot: number, length: number): void {
    if (this.#qp === null || this.#state !== 'established') {
      throw new RebindError('CLOSED', 'the RDMA endpoint is not connected', { section: SECTION, detail: { state: this.#state } });
    }
    const region = this.#send[slot] as Region;
    const wr = this.#stack.sendWr.view;
    wr.setUint32(0, SEND_TAG | slot, true);
    wr.setBigUint64(SEND_WR_SIZE + SGE_ADDR, region.memory.address, true);
    wr.setUint32(SEND_WR_SIZE + SGE_LENGTH, length, true);
    wr.setUint32(SEND_WR_SIZE + SGE_LKEY, region.lkey, true);
    const rc = (this.#device as Device).ops.postSend(this.#qp, this.#stack.sendWr.address, this.#stack.badWr.address);
    if (rc !== 0) {
      this.#fail(this.#stack.failure('TRANSPORT_FAILED', 'ibv_post_send', rc));
      return;
    }
    this.#sendBusy[slot] = true;
  }

  /** SENDs posted and not yet completed. */
  get sendsInFlight(): number {
    return this.#sendBusy.filter(Boolean).length;
  }

  /** Graceful end: `rdma_disconnect`; `onClose()` follows with the DISCONNECTED event. */
  disconnect(): void {
    if (this.#state !== 'established') {
      if (this.#state === 'connecting') this.#fail(new RebindError('CLOSED', 'the RDMA connection was closed while connecting', { section: SECTION }));
      return;
    }
    this.#state = 'closing';
    if (this.#stack.verbs.rdma_disconnect(this.#id) !== 0) this.#finish(undefined);
  }

  /** Abort: disconnects (best effort) and frees everything now; `onClose(error)` is called. */
  destroy(error?: RebindError): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'established') this.#stack.verbs.rdma_disconnect(this.#id);
    this.#finish(error);
  }

  // -------------------------------------------------------------------------------------------

  /** The CQ has an event: re-arm, then drain. */
  onCqEvent(): void {
    if (this.#cq === null || this.#state === 'closed') return;
    (this.#device as Device).ops.reqNotifyCq(this.#cq, 0);
    this.#drain();
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Hands every queued completion to the handlers. */
  #drain(): void {
    const device = this.#device as Device;
    const wc = this.#stack.wc;
    while (this.#cq !== null && this.#state !== 'closed') {
      const count = device.ops.pollCq(this.#cq, WC_BATCH, wc.address);
      if (count < 0) {
        this.#fail(this.#stack.failure('TRANSPORT_FAILED', 'ibv_poll_cq', -count));
        return;
      }
      // Read the whole batch first: a handler may post (and the next poll reuses the array).
      const batch: [number, number, number][] = [];
      for (let i = 0; i < count; i++) {
        const at = i * WC_SIZE;
        batch.push([wc.view.getUint32(at + WC_WR_ID, true), wc.view.getInt32(at + WC_STATUS, true), wc.view.getUint32(at + WC_BYTE_LEN, true)]);
      }
      for (const [wrId, status, length] of batch) {
        if (this.#isClosed()) return; // a handler closed the endpoint
        this.#complete(wrId, status, length);
      }
      if (count < WC_BATCH) return;
    }
  }

  #complete(wrId: number, status: number, length: number): void {
    const isSend = (wrId & SEND_TAG) !== 0;
    const index = wrId & ~SEND_TAG;
    if (status !== WcStatus.SUCCESS) {
      if (status === WcStatus.WR_FLUSH_ERR && this.#state === 'closing') return; // torn down on purpose
      const text = this.#stack.verbs.ibv_wc_status_str(status);
      this.#fail(
        new RebindError('TRANSPORT_FAILED', `${isSend ? 'SEND' : 'RECV'} completion failed: ${text} (status ${status})`, {
          section: SECTION,
          detail: { status, statusText: text, qpNum: this.#qpNum },
        }),
      );
      return;
    }
    if (isSend) {
      this.#sendBusy[index] = false;
      this.#handlers.onSendComplete(index);
    } else {
      this.#handlers.onReceive(index, length);
    }
  }

  #onCmEvent(event: CmEvent, status: number): void {
    switch (event) {
      case CmEvent.ESTABLISHED:
        if (this.#state !== 'connecting') return;
        this.#state = 'established';
        this.#readAddresses();
        this.onConnectEvent?.(event, status);
        this.#handlers.onEstablished?.();
        return;
      case CmEvent.DISCONNECTED:
        if (this.#state === 'connecting' && this.onConnectEvent !== undefined) {
          this.onConnectEvent(event, status); // rcConnect fails with UNREACHABLE
          return;
        }
        // Completions already queued come first (§11.2: a frame received before the end is delivered).
        if (this.#state === 'established' || this.#state === 'closing') {
          this.#state = 'closing';
          this.#drain();
        }
        this.#finish(undefined);
        return;
      case CmEvent.DEVICE_REMOVAL:
        this.#fail(new RebindError('TRANSPORT_FAILED', 'the RDMA device was removed', { section: SECTION, detail: { event: 'DEVICE_REMOVAL' } }));
        return;
      case CmEvent.TIMEWAIT_EXIT:
      case CmEvent.ADDR_CHANGE:
        return;
      default:
        // Address/route resolution and connection establishment (rcConnect, the listener's accept).
        if (this.onConnectEvent !== undefined) this.onConnectEvent(event, status);
        else if (this.#state === 'connecting') {
          this.#fail(new RebindError('UNREACHABLE', `connection failed: ${this.#stack.verbs.rdma_event_str(event)} (status ${status})`, { section: SECTION, detail: { event, status } }));
        }
    }
  }

  #readAddresses(): void {
    const local = parseSockaddr(readBytes(this.#id, ID_SRC_ADDR, 28));
    const remote = parseSockaddr(readBytes(this.#id, ID_DST_ADDR, 28));
    this.#localAddress = rdmaAddress(local.host, local.port);
    this.#remoteAddress = rdmaAddress(remote.host, remote.port);
  }

  #fail(error: RebindError): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'established') this.#stack.verbs.rdma_disconnect(this.#id);
    this.#finish(error);
  }

  /** Frees the QP, CQ, memory regions and id, then reports the close (once). */
  #finish(error: RebindError | undefined): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const verbs = this.#stack.verbs;
    if (this.#qp !== null) verbs.rdma_destroy_qp(this.#id);
    this.#qp = null;
    if (this.#cq !== null) {
      this.#stack.removeCq(this.#device as Device, this.#cq);
      verbs.ibv_destroy_cq(this.#cq);
      this.#cq = null;
    }
    for (const region of this.#send) this.#deregister(region);
    this.#send = [];
    this.#deregister(this.#recv);
    this.#recv = undefined;
    this.#stack.destroyId(this.#id);
    this.#release?.();
    this.#release = undefined;
    this.#handlers.onClose(error);
  }
}

/**
 * `struct rdma_conn_param` of connect and accept: no private data (§11.2), SENDs only (no RDMA
 * READ resources), transport retries 7, RNR retries 0 — the credits of §11.2 guarantee that a
 * receive buffer is always posted, so a receiver-not-ready is a bug and fails at once.
 */
function connParam(): ConnParam {
  return { private_data: null, private_data_len: 0, responder_resources: 0, initiator_depth: 0, flow_control: 0, retry_count: 7, rnr_retry_count: 0, srq: 0, qp_num: 0 };
}

/** Options of {@link rcConnect}. */
export interface RcConnectOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Connects an RC QP to `host:port` through rdma_cm: resolve address, resolve route, create the
 * QP and post its receive buffers, `rdma_connect`, wait for ESTABLISHED (§11.2 "C2").
 *
 * @throws RebindError (rejects) `NO_DEVICE`; `UNREACHABLE` when resolution or the connection
 *   fails, times out (`detail.timedOut`) or is aborted (`detail.aborted`).
 */
export async function rcConnect(
  host: string,
  port: number,
  options: RcOptions,
  handlersFor: (endpoint: RcEndpoint) => RcHandlers,
  connect: RcConnectOptions = {},
): Promise<RcEndpoint> {
  const stack = getStack();
  const ip = isIP(host) !== 0 ? host : (await lookup(host).catch((error: Error) => {
    throw new RebindError('UNREACHABLE', `cannot resolve ${host}: ${error.message}`, { section: SECTION, detail: { host }, cause: error });
  })).address;
  const target = rdmaAddress(ip, port);
  const id = stack.createId(() => {});
  const endpoint = new RcEndpoint(stack, id, options, handlersFor);
  return new Promise<RcEndpoint>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      connect.signal?.removeEventListener('abort', onAbort);
      endpoint.onConnectEvent = undefined;
    };
    const fail = (why: string, detail: Record<string, unknown>, cause?: unknown): void => {
      cleanup();
      const error = new RebindError('UNREACHABLE', `cannot connect to ${target}: ${why}`, { section: SECTION, detail: { address: target, ...detail }, cause });
      endpoint.handlers = { onReceive: () => {}, onSendComplete: () => {}, onClose: () => {} };
      endpoint.destroy(error);
      reject(error);
    };
    const onAbort = (): void => fail('aborted', { aborted: true }, connect.signal?.reason);
    endpoint.onConnectEvent = (event, status) => {
      try {
        switch (event) {
          case CmEvent.ADDR_RESOLVED:
            if (stack.verbs.rdma_resolve_route(id, RESOLVE_MS) !== 0) throw stack.failure('UNREACHABLE', 'rdma_resolve_route');
            return;
          case CmEvent.ROUTE_RESOLVED: {
            endpoint.setUp(); // §11.2: receive buffers posted before connecting
            if (stack.verbs.rdma_connect(id, connParam()) !== 0) throw stack.failure('UNREACHABLE', 'rdma_connect');
            return;
          }
          case CmEvent.ESTABLISHED:
            cleanup();
            resolve(endpoint);
            return;
          default:
            fail(`${stack.verbs.rdma_event_str(event)} (status ${status}${status < 0 ? `, ${errnoName(-status)}` : ''})`, { event, status });
        }
      } catch (error) {
        fail((error as Error).message, {}, error);
      }
    };
    if (connect.timeoutMs !== undefined) timer = setTimeout(() => fail(`no connection after ${connect.timeoutMs} ms`, { timedOut: true }), connect.timeoutMs);
    if (connect.signal !== undefined) {
      if (connect.signal.aborted) {
        onAbort();
        return;
      }
      connect.signal.addEventListener('abort', onAbort, { once: true });
    }
    if (stack.verbs.rdma_resolve_addr(id, null, sockaddr(ip, port), RESOLVE_MS) !== 0) {
      fail(`rdma_resolve_addr failed: ${errnoName(lastErrno())}`, {});
    }
  });
}

/** A listening rdma_cm id (§11.2 "C2": the successor's rebind listener). */
export interface RcListener {
  /** `rdma://IP:PORT`, with the real port when 0 was asked for. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting; endpoints already accepted live on. */
  close(): void;
  setKeepAlive(keep: boolean): void;
}

/**
 * Listens on `host:port` (an IP literal; port 0 picks one). For each connect request a new
 * endpoint gets `handlersFor(endpoint)` (which may throw to refuse the request: `rdma_reject`), is
 * set up — receive buffers posted before accepting, §11.2 — and accepted; its `onEstablished`
 * runs when the connection is up.
 *
 * @throws RebindError `NO_DEVICE`; `UNREACHABLE` when the address cannot be bound.
 */
export function rcListen(host: string, port: number, options: RcOptions, handlersFor: (endpoint: RcEndpoint) => RcHandlers): RcListener {
  const stack = getStack();
  let listening = true;
  const id = stack.createId((event, _status, requestId) => {
    if (event !== CmEvent.CONNECT_REQUEST) return;
    let endpoint: RcEndpoint | undefined;
    try {
      endpoint = new RcEndpoint(stack, requestId, options, handlersFor);
      endpoint.setUp();
      if (stack.verbs.rdma_accept(requestId, connParam()) !== 0) throw stack.failure('TRANSPORT_FAILED', 'rdma_accept');
    } catch (error) {
      stack.verbs.rdma_reject(requestId, null, 0);
      if (endpoint !== undefined) endpoint.destroy(error instanceof RebindError ? error : undefined);
      else stack.verbs.rdma_destroy_id(requestId);
    }
  });
  let release: (() => void) | undefined = stack.reactor.hold();
  const cleanup = (): void => {
    listening = false;
    release?.();
    release = undefined;
    stack.destroyId(id);
  };
  if (stack.verbs.rdma_bind_addr(id, sockaddr(host, port)) !== 0) {
    const error = stack.failure('UNREACHABLE', `rdma_bind_addr(${rdmaAddress(host, port)})`);
    cleanup();
    throw error;
  }
  if (stack.verbs.rdma_listen(id, 64) !== 0) {
    const error = stack.failure('UNREACHABLE', 'rdma_listen');
    cleanup();
    throw error;
  }
  const bound = parseSockaddr(readBytes(id, ID_SRC_ADDR, 28));
  return {
    address: rdmaAddress(bound.host, bound.port),
    host: bound.host,
    port: bound.port,
    close: () => {
      if (listening) cleanup();
    },
    setKeepAlive: (keep: boolean) => {
      if (keep && release === undefined && listening) release = stack.reactor.hold();
      if (!keep) {
        release?.();
        release = undefined;
      }
    },
  };
}
