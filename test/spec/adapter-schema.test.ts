/**
 * The adapter contract's messages (spec §15.1) as pinned by
 * spec/schemas/adapter-message.schema.json: a conversation that follows the contract validates line
 * by line; each kind of mistake an adapter can make is refused.
 */
import { describe, expect, it } from 'vitest';
import { describeSchemaErrors, validateWith } from '../../reference/schemas.js';

const ID = 'urn:rebind:schema:adapter-message';
const CID = '5f3a9c2e7b1d4068a2c4e6f8091b3d5f';

/** A server-side case: hello, listen, accept, recv, fork, close (T1) — and the child's side. */
const CONVERSATION = [
  { type: 'hello', token: '0123456789abcdef0123456789abcdef', pid: 4242, parent: null, implementation: { name: 'rebind-reference', version: '0.1.0' }, roles: ['server', 'peer'], features: ['fast', 'join', 'chain'] },
  { type: 'command', id: 1, op: 'configure', timers: { SUSPEND: 300 }, fast: false },
  { type: 'result', id: 1, ok: true },
  { type: 'command', id: 2, op: 'listen', addr: 'tcp://127.0.0.1:0' },
  { type: 'result', id: 2, ok: true, value: { addr: 'tcp://127.0.0.1:40123', listener: 'l1' } },
  { type: 'event', event: 'accepted', handle: 'a1', listener: 'l1' },
  { type: 'command', id: 3, op: 'recv', handle: 'a1', max: 65536 },
  { type: 'result', id: 3, ok: true, value: { data: '68656c6c6f' } },
  { type: 'command', id: 4, op: 'fork', handles: ['a1'] },
  { type: 'result', id: 4, ok: true, value: { pid: 4243 } },
  { type: 'hello', token: '0123456789abcdef0123456789abcdef', pid: 4243, parent: 4242, implementation: { name: 'rebind-reference', version: '0.1.0' }, roles: ['server', 'peer'], features: [] },
  { type: 'event', event: 'inherited', handle: 'a1', cid: CID },
  { type: 'command', id: 5, op: 'close', handle: 'a1' },
  { type: 'result', id: 5, ok: true },
  { type: 'event', event: 'rebound', handle: 'a1' },
  { type: 'trace', cid: CID, line: '@12.5 O ~> P SUSPEND fast=false hid=1' },
  { type: 'command', id: 6, op: 'probe', feature: 'teleport' },
  { type: 'result', id: 6, unsupported: 'no such feature' },
  { type: 'command', id: 7, op: 'send', handle: 'a1', data: '' },
  { type: 'result', id: 7, ok: false, error: { code: 'ERR_REBOUND', message: 'write on a rebound handle' } },
  { type: 'event', event: 'error', handle: 'a1', code: 'ERR_REBOUND' },
  { type: 'command', id: 8, op: 'handoff', handle: 'a2', pid: 4244 },
  { type: 'command', id: 9, op: 'exit', code: 0 },
  { type: 'command', id: 10, op: 'crash' },
];

describe('adapter messages (§15.1)', () => {
  it('a conversation that follows the contract validates line by line', () => {
    for (const line of CONVERSATION) expect(describeSchemaErrors(validateWith(ID, line).errors), JSON.stringify(line)).toEqual([]);
  });

  it.each([
    ['a hello with a short token', { ...CONVERSATION[0], token: 'abc' }],
    ['a hello claiming an unknown role', { ...CONVERSATION[0], roles: ['origin'] }],
    ['a hello with an unknown feature', { ...CONVERSATION[0], features: ['teleport'] }],
    ['an unknown op', { type: 'command', id: 1, op: 'dance' }],
    ['connect without a handle', { type: 'command', id: 1, op: 'connect', addr: 'tcp://127.0.0.1:1' }],
    ['send with data that is not hex', { type: 'command', id: 1, op: 'send', handle: 'a1', data: 'hello' }],
    ['a result both ok and unsupported', { type: 'result', id: 1, ok: true, unsupported: 'x' }],
    ['a failed result without an error', { type: 'result', id: 1, ok: false }],
    ['an error code that is not ERR_*', { type: 'result', id: 1, ok: false, error: { code: 'TIMEOUT', message: 'm' } }],
    ['an inherited event without its cid', { type: 'event', event: 'inherited', handle: 'a1' }],
    ['an event on a handle with a space in its name', { type: 'event', event: 'close', handle: 'a 1' }],
    ['a line of an unknown type', { type: 'hi' }],
  ])('refuses %s', (_name, line) => {
    expect(validateWith(ID, line).valid).toBe(false);
  });
});
