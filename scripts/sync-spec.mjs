// Keeps the spec's quotations of generated material current: the peggy grammars (§7.4, §13.1) and
// the tables rendered from spec/tables/*.json (§7, §12) live between marker comments in
// spec/rebind.md:  <!-- BEGIN name --> ... <!-- END name -->.
// `node scripts/sync-spec.mjs` rewrites them; `--check` exits 1 when the spec is out of date
// (test/spec/spec.test.ts runs the same check, so a stale quotation fails the suite).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSections } from './spec-sections.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const specPath = join(root, 'spec', 'rebind.md');
const check = process.argv.includes('--check');
const before = readFileSync(specPath, 'utf8');
const { text: after, missing } = renderSections(before, root);
if (missing.length) console.warn(`sync-spec: no markers for ${missing.join(', ')}`);
if (check) {
  if (after !== before) {
    console.error('spec/rebind.md is out of date: run `node scripts/sync-spec.mjs`');
    process.exit(1);
  }
  console.log('spec/rebind.md is current');
} else if (after !== before) {
  writeFileSync(specPath, after);
  console.log('spec/rebind.md updated');
} else {
  console.log('spec/rebind.md already current');
}
