/** The benchmark's result table, as aligned text for the terminal and as markdown. */

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

export interface Row {
  readonly figure: string;
  /** Already formatted values ('' or '-' when not measured). */
  readonly ts: string;
  readonly c: string;
  readonly ratio: string;
  readonly target: string;
  readonly verdict: Verdict;
}

const HEADERS = ['figure', 'gmetad-ts', 'C gmetad', 'ratio ts/C', 'target', 'result'] as const;

function cells(row: Row): string[] {
  return [row.figure, row.ts, row.c, row.ratio, row.target, row.verdict];
}

export function textTable(rows: readonly Row[]): string {
  const all = [[...HEADERS], ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
  ].join('\n');
}

/** `value` with `digits` decimals, or '-' if not measured. */
export function fmt(value: number | null | undefined, digits = 2, unit = ''): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return `${value.toFixed(digits)}${unit}`;
}

/** ts/C as "0.42x", '-' if either is missing or C is 0. */
export function ratio(ts: number | null | undefined, c: number | null | undefined): string {
  if (ts == null || c == null || !Number.isFinite(ts) || !Number.isFinite(c) || c === 0) return '-';
  return `${(ts / c).toFixed(2)}x`;
}

/** PASS/FAIL from a check, n/a if the inputs were not measured. */
export function verdict(measured: boolean, pass: boolean): Verdict {
  if (!measured) return 'n/a';
  return pass ? 'PASS' : 'FAIL';
}
