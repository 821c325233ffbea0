#!/bin/sh
# The RDMA CI tier's part inside the lab guest (lab/ci-tier.mjs boots the guest once and runs
# this): the RDMA test files with vitest, then the whole conformance kit over RDMA.
# Both run even if the first fails; their reports go to $RDMA_LAB_OUT (vitest.json, kit.json,
# times.env) for the host's summary. Exit 0 only when both passed.
out=${RDMA_LAB_OUT:-/tmp/lab-out}
mkdir -p "$out"
now() { date +%s; }

t0=$(now)
npx vitest run test/reference/transport/rdma test/reference/node/rdma- \
  --reporter=default --reporter=json --outputFile.json="$out/vitest.json"
vitest_rc=$?
t1=$(now)
node --import ./scripts/register-ts.mjs lab/kit.mjs --transport rdma --filter kit --timeout 90 --json "$out/kit.json"
kit_rc=$?
t2=$(now)
printf 'vitest_rc=%s\nvitest_s=%s\nkit_rc=%s\nkit_s=%s\n' "$vitest_rc" $((t1 - t0)) "$kit_rc" $((t2 - t1)) > "$out/times.env"
[ "$vitest_rc" -eq 0 ] && [ "$kit_rc" -eq 0 ]
