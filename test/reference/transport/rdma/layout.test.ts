/**
 * The hand-written koffi layouts of the RDMA binding (reference/transport/rdma/abi.ts) against the
 * installed rdma-core headers: a tiny C program prints `offsetof`/`sizeof`/enum values for every
 * field and constant the binding uses, and each must equal the koffi value. A wrong offset would
 * not fail a test later — it would kill the process inside the provider — so this runs on every
 * machine with a C compiler and the headers (libibverbs-dev, librdmacm-dev), device or not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYOUT_CHECKS, LAYOUT_HEADERS } from '../../../../reference/transport/rdma/abi.js';

/** Why the comparison cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (spawnSync('cc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'no C compiler (cc)';
  for (const header of ['infiniband/verbs.h', 'rdma/rdma_cma.h']) {
    if (!existsSync(path.join('/usr/include', header))) return `no /usr/include/${header} (libibverbs-dev, librdmacm-dev)`;
  }
  return undefined;
}

const reason = missing();
const work = mkdtempSync(path.join(tmpdir(), 'rdma-layout-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Compiles and runs the C program; returns one value per check. */
function cValues(): number[] {
  const source = [
    ...LAYOUT_HEADERS.map((h) => `#include <${h}>`),
    'int main(void) {',
    ...LAYOUT_CHECKS.map((check) => `  printf("%ld\\n", (long)(${check.c}));`),
    '  return 0;',
    '}',
    '',
  ].join('\n');
  const file = path.join(work, 'layout.c');
  const binary = path.join(work, 'layout');
  writeFileSync(file, source);
  execFileSync('cc', ['-o', binary, file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return execFileSync(binary, { encoding: 'utf8' }).trim().split('\n').map(Number);
}

describe('rdma-core ABI (x86_64) vs the koffi layouts', () => {
  it.skipIf(reason !== undefined)(`every offset, size and constant matches the headers${reason === undefined ? '' : ` — skipped: ${reason}`}`, () => {
    const values = cValues();
    expect(values).toHaveLength(LAYOUT_CHECKS.length);
    const mismatches = LAYOUT_CHECKS.flatMap((check, i) => (values[i] === check.value ? [] : [`${check.c}: C ${values[i]}, koffi ${check.value}`]));
    expect(mismatches).toEqual([]);
  });

  it('covers the fields the inline verbs go through (ops.poll_cq at 96, post_send at 208: RDMA-LAB facts)', () => {
    const value = (c: string): number | undefined => LAYOUT_CHECKS.find((check) => check.c === c)?.value;
    expect(value('offsetof(struct ibv_context, ops.poll_cq)')).toBe(96);
    expect(value('offsetof(struct ibv_context, ops.req_notify_cq)')).toBe(104);
    expect(value('offsetof(struct ibv_context, ops.post_send)')).toBe(208);
    expect(value('offsetof(struct ibv_context, ops.post_recv)')).toBe(216);
  });
});
