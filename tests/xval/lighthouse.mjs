// Cross-validation harness: Lighthouse's own scoring functions on cases written by
// tests/test_xval_lighthouse.py (lighthouse pinned in package.json; `npm ci` here first).
//
//   node tests/xval/lighthouse.mjs CASES.json OUT.json
//
// CASES: {curves: [{id, p10, median, values: [hex]}],
//         audits: {auditId: [p10, median] | null},            null: a pass/fail audit (value 1/0)
//         categories: {categoryId: [{id: auditId, weight}]},
//         sites: [{id, audits: {auditId: {mode: "numeric"|"notApplicable"|"error", value: hex|null}}}]}
// OUT:   {curves: {id: [hex]}, sites: {id: {auditId: hex|null, categoryId: hex|null}}}
// A curve value is Audit._normalizeAuditScore(Util.computeLogNormalScore({p10, median}, x));
// categories are ReportScoring.scoreAllCategories over audit results built the way Lighthouse's
// runner does (an errored audit: scoreDisplayMode "error", score null). Doubles travel as C99 hex.

import {readFileSync, writeFileSync} from 'node:fs';

import {Util} from 'lighthouse/shared/util.js';
import {Audit} from 'lighthouse/core/audits/audit.js';
import {ReportScoring} from 'lighthouse/core/scoring.js';

/** The double written as a C99 hex float ("0x1.8p+1", "-0x0p+0", "Inf", "NaN"). */
function fromHex(s) {
  if (s === 'NaN') return NaN;
  if (s === 'Inf' || s === 'inf') return Infinity;
  if (s === '-Inf' || s === '-inf') return -Infinity;
  const m = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(s);
  if (!m) throw new Error(`not a hex float: ${s}`);
  const frac = m[3] || '';
  const mant = Number(BigInt('0x' + m[2] + frac)); // at most 53 bits: exact
  const e = Number(m[4]) - 4 * frac.length;
  const half = Math.trunc(e / 2); // two exact steps, so a subnormal is not lost in 2**e
  const v = mant * 2 ** half * 2 ** (e - half);
  return m[1] ? -v : v;
}

/** The C99 hex float of a double, as Python's float.hex writes it. */
function toHex(x) {
  if (x === null) return null;
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Inf' : '-Inf';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? '-' : '';
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & 0xfffffffffffffn).toString(16).padStart(13, '0');
  if (exp === 0 && mant === '0000000000000') return `${sign}0x0.0p+0`;
  return exp === 0 ? `${sign}0x0.${mant}p-1022` : `${sign}0x1.${mant}p${exp - 1023 >= 0 ? '+' : ''}${exp - 1023}`;
}

const auditScore = (p10, median, x) =>
  Audit._normalizeAuditScore(Util.computeLogNormalScore({p10, median}, x), 'numeric', 'xval');

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = {curves: {}, sites: {}};
for (const c of cases.curves) {
  const p10 = fromHex(c.p10);
  const median = fromHex(c.median);
  out.curves[c.id] = c.values.map(v => toHex(auditScore(p10, median, fromHex(v))));
}
const configCategories = Object.fromEntries(Object.entries(cases.categories).map(
  ([id, refs]) => [id, {title: id, auditRefs: refs.map(r => ({id: r.id, weight: r.weight}))}]));
for (const site of cases.sites) {
  const results = {};
  for (const [id, a] of Object.entries(site.audits)) {
    const curve = cases.audits[id];
    if (a.mode === 'error') {
      results[id] = {id, scoreDisplayMode: 'error', score: null};
    } else if (a.mode === 'notApplicable') {
      results[id] = {id, scoreDisplayMode: 'notApplicable', score: null};
    } else {
      const x = fromHex(a.value);
      const raw = curve ? Util.computeLogNormalScore({p10: curve[0], median: curve[1]}, x) : x;
      const mode = curve ? 'numeric' : 'binary';
      results[id] = {id, scoreDisplayMode: mode, score: Audit._normalizeAuditScore(raw, mode, id)};
    }
  }
  const scored = ReportScoring.scoreAllCategories(configCategories, results);
  const row = Object.fromEntries(Object.entries(results).map(([id, r]) => [id, toHex(r.score)]));
  for (const [id, cat] of Object.entries(scored)) row[id] = toHex(cat.score);
  out.sites[site.id] = row;
}
writeFileSync(process.argv[3], JSON.stringify(out));
