// Renders the generated parts of spec/rebind.md (see sync-spec.mjs). Each generator returns
// Markdown; renderSections() replaces what stands between <!-- BEGIN name --> and <!-- END name -->.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const readJson = (root, path) => JSON.parse(readFileSync(join(root, path), 'utf8'));
const hex = (n, width) => '0x' + n.toString(16).toUpperCase().padStart(width, '0');
const cell = (value) => String(value).replace(/\|/g, '\\|');
const list = (value) => (Array.isArray(value) ? value.join(', ') : value);

function grammar(root, file) {
  const text = readFileSync(join(root, 'grammar', file), 'utf8').trimEnd();
  return ['```text', text, '```'].join('\n');
}

function stateTable(root, role) {
  const table = readJson(root, 'spec/tables/states.json').roles[role];
  const lines = [
    `Initial state: \`${table.initial}\`. Terminal states: ${table.terminal.map((s) => `\`${s}\``).join(', ')}.`,
    '',
    '| state | meaning | defers (§7: left queued, not consumed) |',
    '|---|---|---|',
    ...Object.entries(table.states).map(([name, text]) => `| \`${name}\` | ${cell(text)} | ${cell((table.defer?.[name] ?? []).join(', ') || '—')} |`),
    '',
    '| id | in state | on event | if | actions | next | § |',
    '|---|---|---|---|---|---|---|',
    ...table.transitions.map((t) =>
      `| ${t.id} | ${cell(list(t.from))} | ${cell(list(t.on))} | ${cell(t.if ?? '')} | ${cell(t.do.join('; ') || '—')} | ${t.to === '=' ? '(same)' : t.to} | ${t.section} |`),
  ];
  return lines.join('\n');
}

function timers(root) {
  const table = readJson(root, 'spec/tables/states.json').timers;
  return [
    '| timer | role | default | waits for | § |',
    '|---|---|---|---|---|',
    ...Object.entries(table).map(([name, t]) => `| \`${name}\` | ${t.role} | ${t.defaultMs} ms | ${cell(t.waits)} | ${t.section} |`),
  ].join('\n');
}

function errors(root) {
  const table = readJson(root, 'spec/tables/errors.json').errors;
  return [
    '| name | code | class | on the wire | § | meaning |',
    '|---|---|---|---|---|---|',
    ...table.map((e) => `| \`${e.name}\` | ${hex(e.code, 4)} | ${e.class} | ${e.wire ? 'yes' : 'no'} | ${e.section} | ${cell(e.summary)} |`),
  ].join('\n');
}

function messages(root) {
  const table = readJson(root, 'spec/tables/messages.json').messages;
  return [
    '| type | name | channel | sent by | flags | fields | § |',
    '|---|---|---|---|---|---|---|',
    ...table.map((m) => {
      const flags = Object.entries(m.flags).map(([name, bit]) => `${name} (bit ${bit})`).join(', ') || '—';
      const fields = m.fields.map((f) => `${f.name}: ${f.kind}${f.when ? ` (if ${f.when})` : ''}`).join(', ');
      return `| ${hex(m.type, 2)} | ${m.name} | ${m.channel === 'wire' ? 'C1/C2' : 'L'} | ${m.from} | ${flags} | ${fields} | ${m.section} |`;
    }),
  ].join('\n');
}

// docs/ordering.md explains the ordering grammar production by production; the spec quotes it
// (without its title, headings moved two levels down) so the explanation and the grammar stay together.
function orderingNotes(root) {
  const text = readFileSync(join(root, 'docs', 'ordering.md'), 'utf8');
  return text
    .replace(/^# .*\n+/, '')
    .replace(/^(#{2,4}) /gm, (_m, hashes) => `${hashes}## `)
    .trimEnd();
}

/** name → generator(root). */
export const SECTIONS = {
  'trace-grammar': (root) => grammar(root, 'trace.peggy'),
  'ordering-notes': orderingNotes,
  'ordering-grammar': (root) => grammar(root, 'ordering.peggy'),
  'origin-table': (root) => stateTable(root, 'origin'),
  'successor-table': (root) => stateTable(root, 'successor'),
  'peer-table': (root) => stateTable(root, 'peer'),
  'timer-table': timers,
  'error-table': errors,
  'message-table': messages,
};

/** Replaces every marked section of `text`; returns the new text and the names with no markers. */
export function renderSections(text, root) {
  const missing = [];
  let out = text;
  for (const [name, generate] of Object.entries(SECTIONS)) {
    const pattern = new RegExp(`(<!-- BEGIN ${name} -->\\n)([\\s\\S]*?)(<!-- END ${name} -->)`);
    if (!pattern.test(out)) { missing.push(name); continue; }
    const body = generate(root);
    out = out.replace(pattern, (_m, begin, _old, end) => `${begin}${body}\n${end}`);
  }
  return { text: out, missing };
}
