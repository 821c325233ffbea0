/**
 * MUST coverage (spec §15): which sections say MUST, which cases cite them, which are exempt and
 * why; `conformance lint` of the package's corpus fails on an uncovered section.
 */
import { describe, expect, it } from 'vitest';
import { EXEMPT, KNOWN_GAPS, mustCoverage, mustSections } from '../../conformance/coverage.js';
import { catalog } from '../../conformance/catalog.js';
import { KIT_CASES } from '../../conformance/cases/index.js';
import { specSections } from '../../conformance/catalog.js';

const SPEC = [
  '<a id="s1"></a>', '## 1. One', 'Nothing required here.',
  '<a id="s1.1"></a>', '### 1.1 Two', 'An origin MUST send SUSPEND.', 'And it MUST wait.',
  '<a id="s2"></a>', '## 2. Three', 'A quoted `#! level: MUST` is not a requirement.',
  '<a id="s3"></a>', '## 3. Four', 'A sender MUST NOT lie.',
].join('\n');

describe('MUST coverage', () => {
  it('finds the sections whose own text says MUST, not quoted examples', () => {
    expect([...mustSections(SPEC)]).toEqual([['1.1', 2], ['3', 1]]);
  });

  it('sorts them into covered (with the citing ids), exempt, known gaps and uncovered', () => {
    const coverage = mustCoverage([{ id: 'a.b', sections: ['1.1', '2'] }], SPEC);
    expect([...coverage.covered]).toEqual([['1.1', ['a.b']]]);
    expect(coverage.uncovered).toEqual(['3']);
    const exempted = mustCoverage([], SPEC.replace('<a id="s3">', '<a id="s14">'));
    expect(exempted.exempt.get('14')).toBe(EXEMPT['14']);
  });

  it('every exemption and known gap names a section the spec has, with a reason', () => {
    const sections = specSections();
    for (const [section, why] of Object.entries({ ...EXEMPT, ...KNOWN_GAPS })) {
      expect(sections.has(section), section).toBe(true);
      expect(why.length).toBeGreaterThan(20);
    }
  });

  it('the package\'s vectors and kit cases leave no MUST section uncovered', () => {
    const coverage = mustCoverage([...catalog(['vectors']).cases, ...KIT_CASES]);
    expect(coverage.uncovered).toEqual([]);
    expect(coverage.covered.size).toBeGreaterThan(35);
    // A known gap that gets a case must leave KNOWN_GAPS (the list only shrinks).
    for (const section of Object.keys(KNOWN_GAPS)) expect(coverage.covered.has(section), section).toBe(false);
  });
});
