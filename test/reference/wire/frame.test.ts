import { describe, expect, it } from 'vitest';
import { HEADER, MESSAGES } from '../../../reference/tables.js';
import {
  ADDR_MAX_BYTES,
  CID_SIZE,
  FrameFlags,
  FrameType,
  HEADER_SIZE,
  MAX_PAYLOAD_CEILING,
  MAX_PAYLOAD_DEFAULT,
  MESSAGE_NAMES,
  PROTOCOL_VERSION,
  REASON_MAX_BYTES,
  TOKEN_SIZE,
  definedFlagMask,
  frameChannel,
  frameTypeName,
} from '../../../reference/wire/frame.js';

describe('frame constants agree with spec/tables/messages.json', () => {
  it('header size, version and payload limits (§3.1, §3.3)', () => {
    expect(HEADER_SIZE).toBe(HEADER.size);
    expect(PROTOCOL_VERSION).toBe(HEADER.version);
    expect(MAX_PAYLOAD_DEFAULT).toBe(HEADER.maxPayloadDefault);
    expect(MAX_PAYLOAD_CEILING).toBe(HEADER.maxPayloadCeiling);
    expect([MAX_PAYLOAD_DEFAULT, MAX_PAYLOAD_CEILING]).toEqual([1 << 20, 1 << 24]);
    expect([CID_SIZE, TOKEN_SIZE, ADDR_MAX_BYTES, REASON_MAX_BYTES]).toEqual([16, 16, 1024, 1024]);
  });

  it('FrameType has exactly the table types, by name and number', () => {
    expect(Object.fromEntries(MESSAGE_NAMES.map((n) => [n, FrameType[n]]))).toEqual(Object.fromEntries(MESSAGES.map((m) => [m.name, m.type])));
    expect(MESSAGE_NAMES).toHaveLength(21);
    expect(FrameType.HELLO).toBe(0x01);
    expect(FrameType.RELEASE).toBe(0x48);
  });

  it('flag masks are the table bits, and types without flags define none', () => {
    for (const m of MESSAGES) {
      const fromTable = Object.fromEntries(Object.entries(m.flags).map(([flag, bit]) => [flag, 1 << bit]));
      const declared = (FrameFlags as Record<string, Record<string, number>>)[m.name] ?? {};
      expect(declared, m.name).toEqual(fromTable);
      expect(definedFlagMask(m.type), m.name).toBe(Object.values(fromTable).reduce((a, b) => a | b, 0));
    }
    expect(definedFlagMask(0xee)).toBe(0);
  });

  it('names and channels of type bytes', () => {
    expect(frameTypeName(0x04)).toBe('SUSPEND');
    expect(frameTypeName(0x0e)).toBeUndefined();
    expect(frameTypeName(1.5)).toBeUndefined();
    for (const m of MESSAGES) expect(frameChannel(m.type), m.name).toBe(m.channel);
  });
});
