/**
 * The `recv` op of the adapter contract (spec §15.1), shared by the reference's adapter and the
 * kit's own origin/successor processes: the next bytes the application can read — at most `max`,
 * and only bytes already buffered — or end-of-stream. On a dormant handle it is T3 (§2.4).
 *
 * @module
 */
import type { RebindSocket } from '../../reference/node/index.js';

type Line = Record<string, unknown>;

/** `recv` (§15.1): the next bytes the application can read, or end-of-stream. T3 on a dormant handle. */
export function read(socket: RebindSocket, max: number | undefined): Promise<Line> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      // At most `max` bytes, and only bytes already buffered: `read()` without a size would take
      // whatever the host pushes during the call, more than `max` (the rest is unread, §6.5).
      const available = socket.readableLength;
      if (available > 0) {
        const chunk = socket.read(max !== undefined ? Math.min(max, available) : available) as Buffer | null;
        if (chunk !== null) return done({ data: chunk.toString('hex') });
      }
      if (socket.readableEnded) return done({ end: true });
      socket.read(0); // asks the host for bytes without consuming any ('readable' follows)
    };
    const done = (value: Line): void => {
      socket.off('readable', attempt);
      socket.off('end', onEnd);
      socket.off('error', reject);
      resolve(value);
    };
    const onEnd = (): void => done({ end: true });
    socket.on('readable', attempt);
    socket.once('end', onEnd);
    socket.once('error', reject);
    attempt();
  });
}
