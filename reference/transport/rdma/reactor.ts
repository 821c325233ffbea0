/**
 * Node event-loop integration of the RDMA binding (spec §11.2): the rdma_cm event channel and the
 * completion channels are ordinary file descriptors (`struct rdma_event_channel.fd`,
 * `struct ibv_comp_channel.fd`), set non-blocking. One reactor per process waits for them with
 * libc `poll(2)` run on one of koffi's worker threads (`poll.async`), so the JavaScript thread
 * never blocks; when `poll` returns, the handlers of the readable descriptors run on the JS thread
 * (they drain their channel without blocking), and the next `poll` is issued. An `eventfd` wakes
 * the worker when the set of descriptors changes.
 *
 * An in-flight async call keeps Node alive, which is right while a connection is open. When only
 * descriptors that must not keep the process alive remain (`setKeepAlive(false)`, e.g. a
 * successor's rebind listener, §2.3), the reactor polls them with a zero timeout from an unref'd
 * timer instead.
 *
 * @module
 */
import { POLLERR, POLLHUP, POLLIN, EFD_NONBLOCK_CLOEXEC, F_GETFL, F_SETFL, O_NONBLOCK, PollFd } from './abi.js';
import { errnoName, lastErrno, NativeMemory, type Verbs } from './verbs.js';
import koffi from 'koffi';

/** Milliseconds between polls while nothing keeps the process alive. */
const IDLE_POLL_MS = 10;
const POLLFD_SIZE = koffi.sizeof(PollFd);
const EVENTS_OFFSET = koffi.offsetof(PollFd, 'events');
const REVENTS_OFFSET = koffi.offsetof(PollFd, 'revents');

interface Watch {
  readonly fd: number;
  readonly handler: () => void;
  /** Lower runs first when several descriptors are ready (completions before CM events). */
  readonly priority: number;
}

/** Sets `O_NONBLOCK` on a descriptor; throws with the errno on failure. */
export function setNonBlocking(verbs: Verbs, fd: number): void {
  const flags = verbs.fcntl(fd, F_GETFL);
  if (flags < 0 || verbs.fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK) < 0) {
    throw new Error(`fcntl(${fd}, O_NONBLOCK) failed: ${errnoName(lastErrno())}`);
  }
}

/** See the module comment. Use {@link getReactor}. */
export class Reactor {
  readonly #verbs: Verbs;
  readonly #watches = new Map<number, Watch>();
  #holds = 0;
  /** A `poll` runs on a worker thread; `#fds` must not change until it returns. */
  #inFlight = false;
  #dispatching = false;
  #timer: NodeJS.Timeout | undefined;
  #fds: NativeMemory | undefined;
  #wakeFd = -1;
  readonly #wakeValue = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  readonly #drainBuffer = new Uint8Array(8);

  constructor(verbs: Verbs) {
    this.#verbs = verbs;
  }

  /** Calls `handler` whenever `fd` is readable (or in error), until {@link unwatch}. */
  watch(fd: number, handler: () => void, priority = 0): void {
    this.#watches.set(fd, { fd, handler, priority });
    this.#reschedule();
  }

  unwatch(fd: number): void {
    if (this.#watches.delete(fd)) this.#reschedule();
  }

  /** Keeps the process alive until the returned function is called (once; later calls do nothing). */
  hold(): () => void {
    this.#holds++;
    this.#reschedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#reschedule();
    };
  }

  /** The number of watched descriptors (tests). */
  get size(): number {
    return this.#watches.size;
  }

  /** Starts the next wait, or makes the running one return so the new state is seen. */
  #reschedule(): void {
    if (this.#dispatching) return; // #afterPoll reschedules once the handlers are done
    if (this.#inFlight) {
      this.#wake();
      return;
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#watches.size === 0) return; // idle: nothing to wait for
    const count = this.#fillFds();
    const fds = (this.#fds as NativeMemory).address;
    if (this.#holds > 0) {
      this.#inFlight = true;
      this.#verbs.poll.async(fds, count, -1, (error, ready) => {
        this.#inFlight = false;
        this.#afterPoll(error === null || error === undefined ? ready : -1, count);
      });
    } else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#afterPoll(this.#verbs.poll(fds, count, 0), count);
      }, IDLE_POLL_MS);
      this.#timer.unref();
    }
  }

  /** Writes the `struct pollfd` array: the wake eventfd first, then the watched descriptors. */
  #fillFds(): number {
    if (this.#wakeFd < 0) {
      this.#wakeFd = this.#verbs.eventfd(0, EFD_NONBLOCK_CLOEXEC);
      if (this.#wakeFd < 0) throw new Error(`eventfd failed: ${errnoName(lastErrno())}`);
    }
    const count = this.#watches.size + 1;
    if (this.#fds === undefined || this.#fds.length < count * POLLFD_SIZE) {
      this.#fds?.free();
      this.#fds = new NativeMemory(Math.max(16, count * 2) * POLLFD_SIZE);
    }
    const view = this.#fds.view;
    let at = 0;
    for (const fd of [this.#wakeFd, ...this.#watches.keys()]) {
      view.setInt32(at, fd, true);
      view.setInt16(at + EVENTS_OFFSET, POLLIN, true);
      view.setInt16(at + REVENTS_OFFSET, 0, true);
      at += POLLFD_SIZE;
    }
    return count;
  }

  #wake(): void {
    if (this.#wakeFd >= 0) this.#verbs.write(this.#wakeFd, this.#wakeValue, 8);
  }

  /** Runs the handlers of the ready descriptors, then waits again. */
  #afterPoll(ready: number, count: number): void {
    const view = (this.#fds as NativeMemory).view;
    const due: Watch[] = [];
    if (ready > 0) {
      for (let i = 0, at = 0; i < count; i++, at += POLLFD_SIZE) {
        if ((view.getInt16(at + REVENTS_OFFSET, true) & (POLLIN | POLLERR | POLLHUP)) === 0) continue;
        const fd = view.getInt32(at, true);
        if (fd === this.#wakeFd) this.#verbs.read(fd, this.#drainBuffer, 8);
        else {
          const watch = this.#watches.get(fd);
          if (watch !== undefined) due.push(watch);
        }
      }
    }
    due.sort((a, b) => a.priority - b.priority);
    this.#dispatching = true;
    let failure: unknown;
    try {
      for (const watch of due) {
        // A handler may unwatch another descriptor: skip it then.
        if (this.#watches.get(watch.fd) !== watch) continue;
        try {
          watch.handler();
        } catch (error) {
          failure ??= error;
        }
      }
    } finally {
      this.#dispatching = false;
    }
    if (ready < 0) {
      // poll itself failed (EINTR or worse): try again a little later rather than spinning.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#reschedule();
      }, IDLE_POLL_MS);
    } else {
      this.#reschedule();
    }
    // A handler bug must not stop the reactor, nor be swallowed.
    if (failure !== undefined) setImmediate(() => { throw failure; });
  }
}

let instance: Reactor | undefined;

/** The process's reactor. */
export function getReactor(verbs: Verbs): Reactor {
  instance ??= new Reactor(verbs);
  return instance;
}
