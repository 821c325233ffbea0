// The public entry points: what `import ... from 'rebind'` and 'rebind/conformance' give.
import { describe, expect, it } from 'vitest';
import * as rebind from '../../reference/index.js';
import * as conformance from '../../conformance/index.js';

describe("'rebind' entry point", () => {
  it('exports errors, tables, diagnostics, schemas, the wire codec and the trace tools', () => {
    for (const name of [
      'RebindError', 'ERRORS', 'isRebindError', 'MESSAGES', 'STATE_TABLES', 'TIMERS', 'formatDiagnostic', 'validateWith',
      'encodeFrame', 'decodeFrame', 'tryDecodeFrame', 'FrameReader', 'messageToJson', 'messageFromJson', 'FrameType',
      'parseTrace', 'formatTrace', 'checkTrace', 'checkTraceText',
    ]) expect(rebind, name).toHaveProperty(name);
  });

  it('round-trips a frame through the public API', () => {
    const frame = rebind.encodeFrame({ type: 'REBOUND', hid: 1 });
    expect(Buffer.from(frame).toString('hex')).toBe('0109000000000004' + '00000001');
    expect(rebind.decodeFrame(frame)).toEqual({ type: 'REBOUND', hid: 1 });
  });
});

describe("'rebind/conformance' entry point", () => {
  it('exports the check command and the vector tools', () => {
    for (const name of ['main', 'checkPaths', 'parseVectorFile', 'checkFrameVectorFile']) expect(conformance, name).toHaveProperty(name);
  });
});
