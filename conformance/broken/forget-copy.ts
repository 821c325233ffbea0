/**
 * `forget-copy`: the origin does not copy the peer's bytes its application has not read: COPIED
 * alone, with the right `recvEnd`, so that every offset still agrees and nobody notices — except
 * that the bytes [R, Yp) reach no application. Violates §6.5 ("the successor must get exactly
 * these, or the peer's bytes [R, Yp) are lost").
 *
 * @module
 */
import { OriginEngine } from '../../reference/protocol/origin.js';
import type { ByteStream } from '../../reference/protocol/stream.js';
import type { EngineConfig } from '../../reference/protocol/types.js';
import type { Message } from '../../reference/wire/index.js';
import { patchMethod, type BrokenVariant } from './patch.js';

/** The origin engine's internals this variant uses. */
interface Origin {
  readonly handoff: { readonly hid: number; copyDone: boolean; involved: boolean } | undefined;
  readonly stream: ByteStream;
  readonly config: EngineConfig;
  send(channel: 'L', message: Message): void;
}

export const FORGET_COPY: BrokenVariant = {
  name: 'forget-copy',
  description: 'the origin sends COPIED without the COPY frames of the unread bytes',
  violates: '6.5',
  caughtBy: ['kit.fault.window-b-d'],
  install() {
    patchMethod(OriginEngine.prototype, 'copy', () =>
      function (this: Origin): void {
        const h = this.handoff;
        if (h === undefined || h.copyDone) return;
        h.copyDone = true;
        h.involved = true;
        // The unread bytes stay where they are; COPIED claims the copy is complete.
        this.send('L', { type: 'COPIED', peerFin: this.stream.finReceived !== undefined, cid: this.config.cid, hid: h.hid, recvEnd: this.stream.recvOffset });
      },
    );
  },
};
