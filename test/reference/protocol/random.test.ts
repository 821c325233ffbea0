import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Harness, text } from './harness.js';
import { mulberry32 } from '../../support/prng.js';

const rng = mulberry32;

describe('random interleavings (§6.4: exactly once, in order)', () => {
  it('any delivery order per channel, writes and reads at random points: every byte once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.boolean(), fc.integer({ min: 1, max: 5 }), (seed, fast, maxPayload) => {
        const random = rng(seed);
        const h = new Harness({ fast, maxPayload }).establish();
        h.flow('P');
        h.write('P', 'start');
        h.fork('O', 'S');
        let n = 0;
        let triggered = false;
        for (let i = 0; i < 400; i++) {
          const r = random();
          if (r < 0.15) h.write('P', `p${n++};`);
          else if (r < 0.2 && (h.O.state === 'OPEN' || h.O.state === 'SUSPENDING')) h.write('O', `o${n++};`);
          else if (r < 0.25 && h.O.state === 'OPEN') h.read('O', 1 + Math.floor(random() * 4));
          else if (r < 0.3 && !triggered) {
            triggered = true;
            h.flow('S');
          } else {
            if (!h.busy && triggered && i > 200) break;
            h.runRandom(random, 1);
          }
        }
        if (!triggered) h.flow('S');
        h.runRandom(random);
        expect(h.O.state).toBe('REBOUND');
        expect(h.S.state).toBe('OWNER/OPEN');
        h.write('P', 'end');
        h.write('S', 'end');
        h.runRandom(random);
        for (const actor of ['O', 'S', 'P']) expect(h.failCodes(actor)).toEqual(actor === 'O' ? h.failCodes('O').filter((c) => c === 'REBOUND') : []);
        expect(text(h.delivered.get('O')) + text(h.delivered.get('S'))).toBe(text(h.written.get('P')));
        expect(text(h.delivered.get('P'))).toBe(text(h.written.get('O')) + text(h.written.get('S')));
      }),
      { numRuns: 150 },
    );
  });
});
