/**
 * Helpers of the transport tests: connected pairs, waiting for frames and 'close' with a deadline
 * (a test that would hang fails instead).
 */
import type { RebindError } from '../../../reference/errors.js';
import { tcpTransport, type FrameConnection, type FrameListener } from '../../../reference/transport/index.js';
import { messageToJson, type Message } from '../../../reference/wire/index.js';

/** Rejects after `ms` with `what` in the message. */
export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the error of the connection's 'close' (undefined for a clean close). */
export function closeOf(connection: FrameConnection, ms = 5000): Promise<RebindError | undefined> {
  return deadline(new Promise((resolve) => connection.once('close', (error) => resolve(error))), ms, "'close'");
}

/** Resolves with the next `count` frames. */
export function nextFrames(connection: FrameConnection, count: number, ms = 5000): Promise<Message[]> {
  const frames: Message[] = [];
  return deadline(
    new Promise((resolve) => {
      const onFrame = (message: Message): void => {
        frames.push(message);
        if (frames.length === count) {
          connection.off('frame', onFrame);
          resolve(frames);
        }
      };
      connection.on('frame', onFrame);
    }),
    ms,
    `${count} frames (got ${frames.length})`,
  );
}

/** JSON form of messages, for deep comparison (bigints and bytes compared exactly). */
export function asJson(messages: readonly Message[]): unknown[] {
  return messages.map((m) => messageToJson(m));
}

/** A TCP listener on 127.0.0.1 and a connected client/server pair through it. */
export async function tcpPair(options: { maxPayload?: number; sliceData?: boolean } = {}): Promise<{ client: FrameConnection; server: FrameConnection; listener: FrameListener }> {
  let accepted!: (c: FrameConnection) => void;
  const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
  const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (c) => accepted(c), options);
  const client = await tcpTransport.connect(listener.address, options);
  const server = await deadline(serverSide, 5000, 'accept');
  return { client, server, listener };
}
