// spec/schemas/message.schema.json and frame-vectors.schema.json: loadable in ajv strict mode,
// unique ids, and the message schema agrees field by field with spec/tables/messages.json.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot, schemaIds, validateWith } from '../../../reference/schemas.js';
import { MESSAGES, type FieldSpec } from '../../../reference/tables.js';

const INT_MAX = { u8: 255, u16: 65535, u32: 4294967295 };

interface ObjectSchema { type: string; required: string[]; additionalProperties: boolean; properties: Record<string, Record<string, unknown>> }
const dir = join(packageRoot(), 'spec', 'schemas');
const schema = JSON.parse(readFileSync(join(dir, 'message.schema.json'), 'utf8')) as {
  $id: string; oneOf: { $ref: string }[]; $defs: Record<string, ObjectSchema & { oneOf?: ObjectSchema[] }>;
};

/** The object forms of a message's definition: one, or one per value of its `when` flag. */
function forms(name: string): ObjectSchema[] {
  const def = schema.$defs[name];
  if (!def) throw new Error(`no $defs/${name}`);
  return def.oneOf ?? [def];
}

/** The JSON Schema a field's kind should have, resolved through the shared definitions. */
function resolve(s: Record<string, unknown>): Record<string, unknown> {
  const ref = s.$ref as string | undefined;
  if (ref === undefined) return s;
  const target = schema.$defs[ref.replace('#/$defs/', '')] as unknown as Record<string, unknown>;
  const { $ref: _ignored, ...rest } = s;
  return { ...resolve(target), ...rest };
}

describe('spec/schemas', () => {
  it('every schema has a unique $id and loads in ajv strict mode', () => {
    const ids = readdirSync(dir).filter((f) => f.endsWith('.schema.json')).map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { $id: string }).$id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(schemaIds()).toEqual(expect.arrayContaining(['urn:rebind:schema:message', 'urn:rebind:schema:frame-vectors']));
  });
});

describe('message.schema.json agrees with spec/tables/messages.json', () => {
  it('has one definition per message, all in the top-level oneOf', () => {
    expect(schema.$id).toBe('urn:rebind:schema:message');
    expect(schema.oneOf.map((r) => r.$ref)).toEqual(MESSAGES.map((m) => `#/$defs/${m.name}`));
  });

  it.each(MESSAGES.map((m) => [m.name, m] as const))('%s: keys, required, ranges', (name, spec) => {
    const whenFlags = [...new Set(spec.fields.map((f) => f.when).filter((w): w is string => w !== undefined))];
    const variants = forms(name);
    expect(variants).toHaveLength(whenFlags.length === 0 ? 1 : 2);
    for (const form of variants) {
      expect(form.type).toBe('object');
      expect(form.additionalProperties).toBe(false);
      const flagValue = whenFlags.length ? (form.properties[whenFlags[0] as string]?.const as boolean) : undefined;
      const fields: FieldSpec[] = spec.fields.filter((f) => f.when === undefined || flagValue === true);
      const keys = ['type', ...Object.keys(spec.flags), ...fields.map((f) => f.name)];
      expect(Object.keys(form.properties)).toEqual(keys);
      expect([...form.required].sort()).toEqual([...keys].sort());
      expect(form.properties.type).toEqual({ const: name });
      for (const field of fields) {
        const s = resolve(form.properties[field.name] as Record<string, unknown>);
        if (['u8', 'u16', 'u32'].includes(field.kind)) {
          expect(s.type, field.name).toBe('integer');
          expect(s.minimum, field.name).toBe(field.min ?? 0);
          expect(s.maximum, field.name).toBe(field.max ?? (INT_MAX as Record<string, number>)[field.kind]);
        } else if (field.kind === 'cid' && field.nonzero) {
          expect(s.not, field.name).toEqual({ const: '0'.repeat(32) });
        } else {
          expect(s.type, field.name).toBe('string');
        }
      }
    }
  });

  it('rejects a HELLO whose cid does not match its acceptor flag, accepts both right forms', () => {
    const hello = { type: 'HELLO', fast: false, acceptor: false, cid: '0'.repeat(32), maxPayload: 1024, credits: 0 };
    expect(validateWith('urn:rebind:schema:message', hello).valid).toBe(true);
    expect(validateWith('urn:rebind:schema:message', { ...hello, acceptor: true }).valid).toBe(false);
    expect(validateWith('urn:rebind:schema:message', { ...hello, cid: 'ab'.repeat(16) }).valid).toBe(false);
    expect(validateWith('urn:rebind:schema:message', { ...hello, acceptor: true, cid: 'ab'.repeat(16) }).valid).toBe(true);
  });
});
