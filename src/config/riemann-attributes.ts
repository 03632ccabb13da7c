/**
 * `riemann_attributes "key=value,key=value"`: attributes added to every Riemann event after
 * the C gmetad's own (grid, cluster, ip, location). Checked when the file is loaded: the C
 * gmetad crashes on an item without "=" or with an empty value (strdup(NULL)).
 */
export interface RiemannAttribute {
  readonly key: string;
  readonly value: string;
}

export function parseRiemannAttributes(text: string): RiemannAttribute[] {
  const out: RiemannAttribute[] = [];
  // Empty items are skipped, as strtok skips them in the C gmetad.
  for (const item of text.split(',').filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new Error(`"${item}": expected key=value`);
    out.push({ key: item.slice(0, eq), value: item.slice(eq + 1) });
  }
  return out;
}
