/**
 * The JSON Schemas of `spec/schemas/` (draft 2020-12), compiled once with ajv. Every schema has an
 * `$id` of the form `urn:rebind:schema:NAME`; {@link validateWith} checks data against one and
 * returns the result as data (ajv's ErrorObject list), never throwing for invalid data.
 *
 * @module
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** The folder holding the package's own files (it has package.json and spec/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'spec', 'schemas'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('rebind: cannot find the package root (spec/schemas)');
    dir = parent;
  }
}

/** The result of a validation: ajv's errors as data. */
export interface SchemaResult {
  readonly valid: boolean;
  readonly errors: readonly ErrorObject[];
}

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

/** The shared ajv instance with every schema of spec/schemas loaded. */
export function schemaRegistry(): Ajv2020 {
  if (ajv) return ajv;
  const instance = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(instance);
  const dir = join(packageRoot(), 'spec', 'schemas');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort()) {
    instance.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object);
  }
  ajv = instance;
  return instance;
}

/** The ids of every loaded schema. */
export function schemaIds(): string[] {
  return Object.keys(schemaRegistry().schemas).filter((id) => id.startsWith('urn:rebind:schema:'));
}

/** Validates `data` against the schema with the given `$id` (e.g. `urn:rebind:schema:message`). */
export function validateWith(schemaId: string, data: unknown): SchemaResult {
  let validate = compiled.get(schemaId);
  if (!validate) {
    const found = schemaRegistry().getSchema(schemaId);
    if (!found) throw new Error(`rebind: no schema with $id ${schemaId}`);
    validate = found;
    compiled.set(schemaId, validate);
  }
  const valid = validate(data) as boolean;
  return { valid, errors: valid ? [] : [...(validate.errors ?? [])] };
}

/** One line per ajv error: `instancePath message`. */
export function describeSchemaErrors(errors: readonly ErrorObject[]): string[] {
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`);
}
