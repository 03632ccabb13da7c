/**
 * Metric families as the text format wants them: each family once, its HELP and TYPE, then
 * all its samples together. A sample is kept as its label text (one string shared by all
 * of a host's metrics) and its value text; the line is assembled only when written.
 */
import { escapeHelp, escapeLabelValue, formatValue } from './names';

export type FamilyType = 'gauge' | 'counter';

export interface Family {
  name: string;
  readonly help: string;
  readonly type: FamilyType;
  /** Each sample's `a="b",...` ("" without labels). */
  readonly labelTexts: string[];
  /** Each sample's value, as written. */
  readonly values: string[];
}

export function family(name: string, help: string, type: FamilyType = 'gauge'): Family {
  return { name, help, type, labelTexts: [], values: [] };
}

/** Label pairs `k="v"` (values escaped), joined for one sample. */
export function labels(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

/** Adds a sample; `labelText` is from labels() (or "" for none). */
export function sample(f: Family, labelText: string, value: number): void {
  f.labelTexts.push(labelText);
  f.values.push(formatValue(value));
}

/** Adds a sample whose value is already in the text format. */
export function sampleText(f: Family, labelText: string, value: string): void {
  f.labelTexts.push(labelText);
  f.values.push(value);
}

/** Sample i as its line in the text format. */
export function sampleLine(f: Family, i: number): string {
  const l = f.labelTexts[i];
  return l === '' ? `${f.name} ${f.values[i]}\n` : `${f.name}{${l}} ${f.values[i]}\n`;
}

export function familyHeader(f: Family): string {
  return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
}
