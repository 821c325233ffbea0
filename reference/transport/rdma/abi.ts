/**
 * The C ABI the RDMA binding (spec §11.2) uses: rdma-core 44's structs, as koffi types, and the
 * enum values it needs, for Linux x86_64. Nothing here loads a library: the types only describe
 * memory, so the layout test (test/reference/transport/rdma/layout.test.ts) can compare every
 * offset with `offsetof` from the installed headers on any machine.
 *
 * The layouts are written by hand from `<infiniband/verbs.h>` and `<rdma/rdma_cma.h>`. A wrong
 * offset does not fail politely — the provider reads garbage and the process dies — so every
 * field the binding reads or writes is listed in {@link LAYOUT_CHECKS} and tested.
 *
 * Pointers are `void *` throughout: koffi 3 passes and returns them as BigInt addresses, and the
 * binding reads the few fields it needs itself (see verbs.ts).
 *
 * @module
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

// ---------------------------------------------------------------------------------------------
// Enum values (verbs.h, rdma_cma.h, poll.h, fcntl.h). Checked against the headers by the test.

/** `enum rdma_port_space` (rdma_cma.h): RDMA_PS_TCP gives a reliable connected (RC) QP. */
export const RDMA_PS_TCP = 0x0106;

/** `enum rdma_cm_event_type` (rdma_cma.h). */
export enum CmEvent {
  ADDR_RESOLVED = 0,
  ADDR_ERROR = 1,
  ROUTE_RESOLVED = 2,
  ROUTE_ERROR = 3,
  CONNECT_REQUEST = 4,
  CONNECT_RESPONSE = 5,
  CONNECT_ERROR = 6,
  UNREACHABLE = 7,
  REJECTED = 8,
  ESTABLISHED = 9,
  DISCONNECTED = 10,
  DEVICE_REMOVAL = 11,
  MULTICAST_JOIN = 12,
  MULTICAST_ERROR = 13,
  ADDR_CHANGE = 14,
  TIMEWAIT_EXIT = 15,
}

/** `enum ibv_qp_type` (verbs.h): reliable connected. */
export const IBV_QPT_RC = 2;
/** `enum ibv_wr_opcode` (verbs.h): a two-sided SEND. */
export const IBV_WR_SEND = 2;
/** `enum ibv_send_flags` (verbs.h): ask for a completion of this work request. */
export const IBV_SEND_SIGNALED = 2;
/** `enum ibv_access_flags` (verbs.h): the HCA may write the region (receive buffers). */
export const IBV_ACCESS_LOCAL_WRITE = 1;

/** `enum ibv_wc_status` (verbs.h), the values the binding names. */
export enum WcStatus {
  SUCCESS = 0,
  /** Work requests flushed when the QP went to the error state (teardown, §11.2 "lost"). */
  WR_FLUSH_ERR = 5,
  RETRY_EXC_ERR = 12,
  RNR_RETRY_EXC_ERR = 13,
}

/** `enum ibv_wc_opcode` (verbs.h): receive completions have this bit set. */
export const IBV_WC_RECV = 128;

/** `<poll.h>` and `<fcntl.h>` (x86_64 Linux). */
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
/** `<sys/eventfd.h>`: EFD_NONBLOCK | EFD_CLOEXEC. */
export const EFD_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
/** `<sys/socket.h>` address families. */
export const AF_INET = 2;
export const AF_INET6 = 10;

// ---------------------------------------------------------------------------------------------
// Structs. Names follow the C declarations; fields the binding never touches keep their C type
// where it is simple, and are opaque byte arrays of the right size and alignment otherwise.

const ptr = 'void *';
/** `pthread_mutex_t` (40 bytes) and `pthread_cond_t` (48 bytes) on x86_64 glibc. */
const pthreadMutex = koffi.array('uint8_t', 40);
const pthreadCond = koffi.array('uint8_t', 48);

/** `struct ibv_context_ops` (verbs.h): the provider's entry points. The inline verbs call
 * `poll_cq`, `req_notify_cq`, `post_send` and `post_recv` through it. */
export const IbvContextOps = koffi.struct('ibv_context_ops', {
  _compat_query_device: ptr,
  _compat_query_port: ptr,
  _compat_alloc_pd: ptr,
  _compat_dealloc_pd: ptr,
  _compat_reg_mr: ptr,
  _compat_rereg_mr: ptr,
  _compat_dereg_mr: ptr,
  alloc_mw: ptr,
  bind_mw: ptr,
  dealloc_mw: ptr,
  _compat_create_cq: ptr,
  poll_cq: ptr,
  req_notify_cq: ptr,
  _compat_cq_event: ptr,
  _compat_resize_cq: ptr,
  _compat_destroy_cq: ptr,
  _compat_create_srq: ptr,
  _compat_modify_srq: ptr,
  _compat_query_srq: ptr,
  _compat_destroy_srq: ptr,
  post_srq_recv: ptr,
  _compat_create_qp: ptr,
  _compat_query_qp: ptr,
  _compat_modify_qp: ptr,
  _compat_destroy_qp: ptr,
  post_send: ptr,
  post_recv: ptr,
  _compat_create_ah: ptr,
  _compat_destroy_ah: ptr,
  _compat_attach_mcast: ptr,
  _compat_detach_mcast: ptr,
  _compat_async_event: ptr,
});

/** `struct ibv_context` (verbs.h). */
export const IbvContext = koffi.struct('ibv_context', {
  device: ptr,
  ops: IbvContextOps,
  cmd_fd: 'int',
  async_fd: 'int',
  num_comp_vectors: 'int',
  mutex: [8, pthreadMutex],
  abi_compat: ptr,
});

/** `struct ibv_comp_channel` (verbs.h): `fd` becomes readable when a CQ has an event. */
export const IbvCompChannel = koffi.struct('ibv_comp_channel', {
  context: ptr,
  fd: 'int',
  refcnt: 'int',
});

/** `struct ibv_cq` (verbs.h). */
export const IbvCq = koffi.struct('ibv_cq', {
  context: ptr,
  channel: ptr,
  cq_context: ptr,
  handle: 'uint32_t',
  cqe: 'int',
  mutex: [8, pthreadMutex],
  cond: [8, pthreadCond],
  comp_events_completed: 'uint32_t',
  async_events_completed: 'uint32_t',
});

/** `struct ibv_mr` (verbs.h): `lkey` goes into each scatter/gather element. */
export const IbvMr = koffi.struct('ibv_mr', {
  context: ptr,
  pd: ptr,
  addr: ptr,
  length: 'size_t',
  handle: 'uint32_t',
  lkey: 'uint32_t',
  rkey: 'uint32_t',
});

/** `struct ibv_qp` (verbs.h). */
export const IbvQp = koffi.struct('ibv_qp', {
  context: ptr,
  qp_context: ptr,
  pd: ptr,
  send_cq: ptr,
  recv_cq: ptr,
  srq: ptr,
  handle: 'uint32_t',
  qp_num: 'uint32_t',
  state: 'int',
  qp_type: 'int',
  mutex: [8, pthreadMutex],
  cond: [8, pthreadCond],
  events_completed: 'uint32_t',
});

/** `struct ibv_qp_cap` (verbs.h). */
export const IbvQpCap = koffi.struct('ibv_qp_cap', {
  max_send_wr: 'uint32_t',
  max_recv_wr: 'uint32_t',
  max_send_sge: 'uint32_t',
  max_recv_sge: 'uint32_t',
  max_inline_data: 'uint32_t',
});

/** `struct ibv_qp_init_attr` (verbs.h), given to `rdma_create_qp`. */
export const IbvQpInitAttr = koffi.struct('ibv_qp_init_attr', {
  qp_context: ptr,
  send_cq: ptr,
  recv_cq: ptr,
  srq: ptr,
  cap: IbvQpCap,
  qp_type: 'int',
  sq_sig_all: 'int',
});

/** `struct ibv_sge` (verbs.h): one scatter/gather element. */
export const IbvSge = koffi.struct('ibv_sge', {
  addr: 'uint64_t',
  length: 'uint32_t',
  lkey: 'uint32_t',
});

/** `struct ibv_recv_wr` (verbs.h). */
export const IbvRecvWr = koffi.struct('ibv_recv_wr', {
  wr_id: 'uint64_t',
  next: ptr,
  sg_list: ptr,
  num_sge: 'int',
});

/** `struct ibv_send_wr` (verbs.h). The unions after `send_flags` (imm_data, wr.rdma/atomic/ud,
 * qp_type.xrc, bind_mw/tso) are unused by SEND and kept as zeroed bytes. */
export const IbvSendWr = koffi.struct('ibv_send_wr', {
  wr_id: 'uint64_t',
  next: ptr,
  sg_list: ptr,
  num_sge: 'int',
  opcode: 'int',
  send_flags: 'uint32_t',
  imm_data: 'uint32_t',
  wr: [8, koffi.array('uint8_t', 32)],
  qp_type: [4, koffi.array('uint8_t', 4)],
  bind_mw: [8, koffi.array('uint8_t', 48)],
});

/** `struct ibv_wc` (verbs.h): one work completion. */
export const IbvWc = koffi.struct('ibv_wc', {
  wr_id: 'uint64_t',
  status: 'int',
  opcode: 'int',
  vendor_err: 'uint32_t',
  byte_len: 'uint32_t',
  imm_data: 'uint32_t',
  qp_num: 'uint32_t',
  src_qp: 'uint32_t',
  wc_flags: 'uint32_t',
  pkey_index: 'uint16_t',
  slid: 'uint16_t',
  sl: 'uint8_t',
  dlid_path_bits: 'uint8_t',
});

/** `struct rdma_event_channel` (rdma_cma.h): `fd` becomes readable when a CM event is queued. */
export const RdmaEventChannel = koffi.struct('rdma_event_channel', { fd: 'int' });

/** `struct sockaddr_storage` (128 bytes, 8-aligned): the unions of `struct rdma_addr`. */
const SockaddrStorage = [8, koffi.array('uint8_t', 128)] as [number, TypeObject];

/** `struct rdma_ib_addr` (rdma_cma.h): two `union ibv_gid` (16 bytes, 8-aligned) and a pkey. */
export const RdmaIbAddr = koffi.struct('rdma_ib_addr', {
  sgid: [8, koffi.array('uint8_t', 16)],
  dgid: [8, koffi.array('uint8_t', 16)],
  pkey: 'uint16_t',
});

/** `struct rdma_addr` (rdma_cma.h): source and destination socket addresses. */
export const RdmaAddr = koffi.struct('rdma_addr', {
  src_addr: SockaddrStorage,
  dst_addr: SockaddrStorage,
  addr: RdmaIbAddr,
});

/** `struct rdma_route` (rdma_cma.h). */
export const RdmaRoute = koffi.struct('rdma_route', {
  addr: RdmaAddr,
  path_rec: ptr,
  num_paths: 'int',
});

/** `struct rdma_cm_id` (rdma_cma.h). The binding reads `verbs`, `qp` and the route's addresses. */
export const RdmaCmId = koffi.struct('rdma_cm_id', {
  verbs: ptr,
  channel: ptr,
  context: ptr,
  qp: ptr,
  route: RdmaRoute,
  ps: 'int',
  port_num: 'uint8_t',
  event: ptr,
  send_cq_channel: ptr,
  send_cq: ptr,
  recv_cq_channel: ptr,
  recv_cq: ptr,
  srq: ptr,
  pd: ptr,
  qp_type: 'int',
});

/** `struct rdma_conn_param` (rdma_cma.h), given to `rdma_connect` and `rdma_accept`. */
export const RdmaConnParam = koffi.struct('rdma_conn_param', {
  private_data: ptr,
  private_data_len: 'uint8_t',
  responder_resources: 'uint8_t',
  initiator_depth: 'uint8_t',
  flow_control: 'uint8_t',
  retry_count: 'uint8_t',
  rnr_retry_count: 'uint8_t',
  srq: 'uint8_t',
  qp_num: 'uint32_t',
});

/** `struct rdma_cm_event` (rdma_cma.h). `param` is a union of `rdma_conn_param` and
 * `rdma_ud_param` (private data is not used by §11.2), kept opaque. */
export const RdmaCmEvent = koffi.struct('rdma_cm_event', {
  id: ptr,
  listen_id: ptr,
  event: 'int',
  status: 'int',
  param: [8, koffi.array('uint8_t', 56)],
});

/** `struct pollfd` (poll.h): the event loop integration polls the channels' fds. */
export const PollFd = koffi.struct('pollfd', {
  fd: 'int',
  events: 'int16_t',
  revents: 'int16_t',
});

/** `struct sockaddr_in` (netinet/in.h). Port and address are in network byte order. */
export const SockaddrIn = koffi.struct('sockaddr_in', {
  sin_family: 'uint16_t',
  sin_port: 'uint16_t',
  sin_addr: koffi.array('uint8_t', 4),
  sin_zero: koffi.array('uint8_t', 8),
});

/** `struct sockaddr_in6` (netinet/in.h). */
export const SockaddrIn6 = koffi.struct('sockaddr_in6', {
  sin6_family: 'uint16_t',
  sin6_port: 'uint16_t',
  sin6_flowinfo: 'uint32_t',
  sin6_addr: koffi.array('uint8_t', 16),
  sin6_scope_id: 'uint32_t',
});

/**
 * The byte offset of a dotted member path (`'route.addr.src_addr'`) in a koffi struct, like C's
 * `offsetof(struct rdma_cm_id, route.addr.src_addr)`.
 */
export function offsetOf(type: TypeObject, path: string): number {
  let offset = 0;
  let current = type;
  for (const name of path.split('.')) {
    const member = current.members?.[name];
    if (member === undefined) throw new TypeError(`${current.name} has no member ${name}`);
    offset += member.offset;
    current = member.type;
  }
  return offset;
}

/** One fact of the ABI: a C expression and the value the koffi layouts give it. */
export interface LayoutCheck {
  /** A C expression of type size_t or int, e.g. `offsetof(struct ibv_wc, byte_len)`. */
  readonly c: string;
  readonly value: number;
}

const offset = (struct: TypeObject, cName: string, path: string): LayoutCheck => ({
  c: `offsetof(struct ${cName}, ${path})`,
  value: offsetOf(struct, path),
});
const size = (struct: TypeObject, cName: string): LayoutCheck => ({ c: `sizeof(struct ${cName})`, value: koffi.sizeof(struct) });
const constant = (c: string, value: number): LayoutCheck => ({ c: `(long)(${c})`, value });

/**
 * Every offset, size and constant the binding relies on, as C expressions with the koffi value.
 * The layout test compiles them against the installed headers and compares.
 */
export const LAYOUT_CHECKS: readonly LayoutCheck[] = Object.freeze([
  // verbs.h: the ops table of the inline verbs
  offset(IbvContext, 'ibv_context', 'ops'),
  offset(IbvContext, 'ibv_context', 'ops.poll_cq'),
  offset(IbvContext, 'ibv_context', 'ops.req_notify_cq'),
  offset(IbvContext, 'ibv_context', 'ops.post_send'),
  offset(IbvContext, 'ibv_context', 'ops.post_recv'),
  offset(IbvContext, 'ibv_context', 'cmd_fd'),
  offset(IbvContext, 'ibv_context', 'abi_compat'),
  size(IbvContext, 'ibv_context'),
  size(IbvContextOps, 'ibv_context_ops'),
  offset(IbvCompChannel, 'ibv_comp_channel', 'fd'),
  offset(IbvCq, 'ibv_cq', 'context'),
  offset(IbvCq, 'ibv_cq', 'comp_events_completed'),
  size(IbvCq, 'ibv_cq'),
  offset(IbvMr, 'ibv_mr', 'addr'),
  offset(IbvMr, 'ibv_mr', 'length'),
  offset(IbvMr, 'ibv_mr', 'lkey'),
  size(IbvMr, 'ibv_mr'),
  offset(IbvQp, 'ibv_qp', 'context'),
  offset(IbvQp, 'ibv_qp', 'qp_num'),
  size(IbvQp, 'ibv_qp'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'send_cq'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'recv_cq'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap.max_send_wr'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap.max_recv_wr'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap.max_send_sge'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap.max_recv_sge'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'cap.max_inline_data'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'qp_type'),
  offset(IbvQpInitAttr, 'ibv_qp_init_attr', 'sq_sig_all'),
  size(IbvQpInitAttr, 'ibv_qp_init_attr'),
  offset(IbvSge, 'ibv_sge', 'addr'),
  offset(IbvSge, 'ibv_sge', 'length'),
  offset(IbvSge, 'ibv_sge', 'lkey'),
  size(IbvSge, 'ibv_sge'),
  offset(IbvRecvWr, 'ibv_recv_wr', 'wr_id'),
  offset(IbvRecvWr, 'ibv_recv_wr', 'next'),
  offset(IbvRecvWr, 'ibv_recv_wr', 'sg_list'),
  offset(IbvRecvWr, 'ibv_recv_wr', 'num_sge'),
  size(IbvRecvWr, 'ibv_recv_wr'),
  offset(IbvSendWr, 'ibv_send_wr', 'wr_id'),
  offset(IbvSendWr, 'ibv_send_wr', 'next'),
  offset(IbvSendWr, 'ibv_send_wr', 'sg_list'),
  offset(IbvSendWr, 'ibv_send_wr', 'num_sge'),
  offset(IbvSendWr, 'ibv_send_wr', 'opcode'),
  offset(IbvSendWr, 'ibv_send_wr', 'send_flags'),
  offset(IbvSendWr, 'ibv_send_wr', 'imm_data'),
  offset(IbvSendWr, 'ibv_send_wr', 'wr'),
  offset(IbvSendWr, 'ibv_send_wr', 'qp_type'),
  offset(IbvSendWr, 'ibv_send_wr', 'bind_mw'),
  size(IbvSendWr, 'ibv_send_wr'),
  offset(IbvWc, 'ibv_wc', 'wr_id'),
  offset(IbvWc, 'ibv_wc', 'status'),
  offset(IbvWc, 'ibv_wc', 'opcode'),
  offset(IbvWc, 'ibv_wc', 'byte_len'),
  offset(IbvWc, 'ibv_wc', 'qp_num'),
  size(IbvWc, 'ibv_wc'),
  // rdma_cma.h
  offset(RdmaEventChannel, 'rdma_event_channel', 'fd'),
  offset(RdmaCmId, 'rdma_cm_id', 'verbs'),
  offset(RdmaCmId, 'rdma_cm_id', 'context'),
  offset(RdmaCmId, 'rdma_cm_id', 'qp'),
  offset(RdmaCmId, 'rdma_cm_id', 'route'),
  offset(RdmaCmId, 'rdma_cm_id', 'route.addr.src_addr'),
  offset(RdmaCmId, 'rdma_cm_id', 'route.addr.dst_addr'),
  offset(RdmaCmId, 'rdma_cm_id', 'route.addr.addr'),
  offset(RdmaCmId, 'rdma_cm_id', 'route.path_rec'),
  offset(RdmaCmId, 'rdma_cm_id', 'ps'),
  offset(RdmaCmId, 'rdma_cm_id', 'event'),
  offset(RdmaCmId, 'rdma_cm_id', 'pd'),
  offset(RdmaCmId, 'rdma_cm_id', 'qp_type'),
  size(RdmaCmId, 'rdma_cm_id'),
  offset(RdmaCmEvent, 'rdma_cm_event', 'id'),
  offset(RdmaCmEvent, 'rdma_cm_event', 'listen_id'),
  offset(RdmaCmEvent, 'rdma_cm_event', 'event'),
  offset(RdmaCmEvent, 'rdma_cm_event', 'status'),
  offset(RdmaCmEvent, 'rdma_cm_event', 'param'),
  size(RdmaCmEvent, 'rdma_cm_event'),
  offset(RdmaConnParam, 'rdma_conn_param', 'private_data_len'),
  offset(RdmaConnParam, 'rdma_conn_param', 'responder_resources'),
  offset(RdmaConnParam, 'rdma_conn_param', 'initiator_depth'),
  offset(RdmaConnParam, 'rdma_conn_param', 'flow_control'),
  offset(RdmaConnParam, 'rdma_conn_param', 'retry_count'),
  offset(RdmaConnParam, 'rdma_conn_param', 'rnr_retry_count'),
  offset(RdmaConnParam, 'rdma_conn_param', 'srq'),
  offset(RdmaConnParam, 'rdma_conn_param', 'qp_num'),
  size(RdmaConnParam, 'rdma_conn_param'),
  // libc
  offset(PollFd, 'pollfd', 'events'),
  offset(PollFd, 'pollfd', 'revents'),
  size(PollFd, 'pollfd'),
  offset(SockaddrIn, 'sockaddr_in', 'sin_port'),
  offset(SockaddrIn, 'sockaddr_in', 'sin_addr'),
  size(SockaddrIn, 'sockaddr_in'),
  offset(SockaddrIn6, 'sockaddr_in6', 'sin6_port'),
  offset(SockaddrIn6, 'sockaddr_in6', 'sin6_flowinfo'),
  offset(SockaddrIn6, 'sockaddr_in6', 'sin6_addr'),
  offset(SockaddrIn6, 'sockaddr_in6', 'sin6_scope_id'),
  size(SockaddrIn6, 'sockaddr_in6'),
  // enum values
  constant('RDMA_PS_TCP', RDMA_PS_TCP),
  ...Object.entries(CmEvent)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => constant(`RDMA_CM_EVENT_${name}`, value as number)),
  constant('IBV_QPT_RC', IBV_QPT_RC),
  constant('IBV_WR_SEND', IBV_WR_SEND),
  constant('IBV_SEND_SIGNALED', IBV_SEND_SIGNALED),
  constant('IBV_ACCESS_LOCAL_WRITE', IBV_ACCESS_LOCAL_WRITE),
  constant('IBV_WC_SUCCESS', WcStatus.SUCCESS),
  constant('IBV_WC_WR_FLUSH_ERR', WcStatus.WR_FLUSH_ERR),
  constant('IBV_WC_RETRY_EXC_ERR', WcStatus.RETRY_EXC_ERR),
  constant('IBV_WC_RNR_RETRY_EXC_ERR', WcStatus.RNR_RETRY_EXC_ERR),
  constant('IBV_WC_RECV', IBV_WC_RECV),
  constant('POLLIN', POLLIN),
  constant('POLLERR', POLLERR),
  constant('POLLHUP', POLLHUP),
  constant('F_GETFL', F_GETFL),
  constant('F_SETFL', F_SETFL),
  constant('O_NONBLOCK', O_NONBLOCK),
  constant('EFD_NONBLOCK | EFD_CLOEXEC', EFD_NONBLOCK_CLOEXEC),
  constant('AF_INET', AF_INET),
  constant('AF_INET6', AF_INET6),
]);

/** The headers the checks need (the layout test's C program includes them). */
export const LAYOUT_HEADERS: readonly string[] = Object.freeze([
  'stddef.h',
  'stdio.h',
  'poll.h',
  'fcntl.h',
  'sys/eventfd.h',
  'sys/socket.h',
  'netinet/in.h',
  'infiniband/verbs.h',
  'rdma/rdma_cma.h',
]);
