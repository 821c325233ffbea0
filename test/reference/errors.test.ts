import { describe, expect, it } from 'vitest';
import errorTable from '../../spec/tables/errors.json' with { type: 'json' };
import { ERRORS, ErrorName, RebindError, errorByWireCode, isErrorName, isRebindError } from '../../reference/errors.js';
import { validateWith } from '../../reference/schemas.js';

describe('error table (§12)', () => {
  it('validates against its schema', () => {
    const result = validateWith('urn:rebind:schema:error-table', errorTable);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('names and codes are unique', () => {
    const names = errorTable.errors.map((e) => e.name);
    const codes = errorTable.errors.map((e) => e.code);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('the TypeScript names are exactly the table names', () => {
    expect(Object.keys(ErrorName).sort()).toEqual(errorTable.errors.map((e) => e.name).sort());
    for (const [key, value] of Object.entries(ErrorName)) expect(key).toBe(value);
  });

  it('codes group by class: frame 0x01xx, protocol 0x02xx, auth 0x03xx, failure 0x04xx, environment 0x05xx, trace 0x06xx', () => {
    const high = { frame: 1, protocol: 2, auth: 3, failure: 4, environment: 5, trace: 6 } as const;
    for (const info of Object.values(ERRORS)) expect(info.code >> 8).toBe(high[info.class]);
  });

  it('only frame, protocol, auth and failure errors go on the wire', () => {
    for (const info of Object.values(ERRORS)) {
      if (info.class === 'environment' || info.class === 'trace') expect(info.wire).toBe(false);
    }
  });
});

describe('RebindError', () => {
  it('carries the stable code, wire code and section', () => {
    const error = new RebindError('TOKEN_INVALID', 'ATTACH token does not match', { detail: { hid: 1 } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RebindError');
    expect(error.code).toBe('ERR_TOKEN_INVALID');
    expect(error.errorName).toBe('TOKEN_INVALID');
    expect(error.wireCode).toBe(0x0301);
    expect(error.section).toBe('8.3');
    expect(error.message).toBe('ATTACH token does not match (§8.3)');
    expect(error.detail).toEqual({ hid: 1 });
    expect(error.toJSON()).toEqual({ code: 'ERR_TOKEN_INVALID', wireCode: 769, section: '8.3', message: error.message, detail: { hid: 1 } });
  });

  it('lets a caller cite a more specific section and keep a cause', () => {
    const cause = new Error('socket closed');
    const error = new RebindError('TIMEOUT', 'no SUSPENDED', { section: '6.2', cause });
    expect(error.section).toBe('6.2');
    expect(error.cause).toBe(cause);
  });

  it('is recognised by name', () => {
    const error = new RebindError('STREAM_GAP', 'copy ends at 10, ATTACH says 12');
    expect(isRebindError(error)).toBe(true);
    expect(isRebindError(error, 'STREAM_GAP')).toBe(true);
    expect(isRebindError(error, 'TIMEOUT')).toBe(false);
    expect(isRebindError(new Error('x'))).toBe(false);
  });

  it('looks codes up both ways', () => {
    expect(errorByWireCode(0x040b)?.name).toBe('STREAM_GAP');
    expect(errorByWireCode(0xffff)).toBeUndefined();
    expect(isErrorName('REVOKED')).toBe(true);
    expect(isErrorName('toString')).toBe(false);
  });
});
