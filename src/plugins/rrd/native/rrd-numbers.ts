/**
 * rrdtool 1.7.2's own number parsing, ported operation for operation so that the doubles
 * (and so the bytes) in the files are the ones `rrdtool update` produces:
 * - rrd_strtod (rrd_strtod.c) is not correctly rounded: it accumulates the digits in a
 *   double and scales by repeated squaring of 10, so "0.1234" is 1234 / 10 / 10000, which
 *   can differ from JavaScript's Number("0.1234") in the last bit;
 * - rrd_strtodbl adds "nan"/"inf" spellings, matched as case-insensitive prefixes;
 * - rrd_diff (rrd_diff.c) subtracts two COUNTER/DERIVE readings as decimal strings.
 * All three work on the ASCII text the caller would have passed to rrdtool.
 */

/** rrdtool's DNAN is 0.0/0.0 folded by the compiler: on x86_64 the negative quiet NaN. */
export const DNAN_HIGH_WORD = 0xfff80000;

const CODE_0 = 48;
const CODE_9 = 57;

function isDigitCode(c: number): boolean {
  return c >= CODE_0 && c <= CODE_9;
}

/** C isspace() in the C locale. */
function isSpaceCode(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** DBL_MIN_EXP and DBL_MAX_EXP of IEEE double. */
const DBL_MIN_EXP = -1021;
const DBL_MAX_EXP = 1024;

/** Result of rrd_strtod: the value and how many characters it consumed (0: no conversion). */
export interface StrtodResult {
  readonly value: number;
  readonly end: number;
}

/** Port of rrd_strtod(): `end` is 0 where the C code leaves endptr at the start. */
export function rrdStrtod(text: string): StrtodResult {
  let p = 0;
  const n = text.length;
  while (p < n && isSpaceCode(text.charCodeAt(p))) p++;
  let negative = false;
  const sign = p < n ? text.charCodeAt(p) : 0;
  if (sign === 45 /* - */) {
    negative = true;
    p++;
  } else if (sign === 43 /* + */) {
    p++;
  }
  let number = 0;
  let exponent = 0;
  let numDigits = 0;
  let numDecimals = 0;
  while (p < n && isDigitCode(text.charCodeAt(p))) {
    number = number * 10 + (text.charCodeAt(p) - CODE_0);
    p++;
    numDigits++;
  }
  if (p < n && text.charCodeAt(p) === 46 /* . */) {
    p++;
    while (p < n && isDigitCode(text.charCodeAt(p))) {
      number = number * 10 + (text.charCodeAt(p) - CODE_0);
      p++;
      numDigits++;
      numDecimals++;
    }
    exponent -= numDecimals;
  }
  if (numDigits === 0) return { value: 0, end: 0 };
  if (negative) number = -number;
  const e = p < n ? text.charCodeAt(p) : 0;
  if (e === 101 /* e */ || e === 69 /* E */) {
    let expNegative = false;
    p++;
    const expSign = p < n ? text.charCodeAt(p) : 0;
    if (expSign === 45) {
      expNegative = true;
      p++;
    } else if (expSign === 43) {
      p++;
    }
    let digits = 0;
    while (p < n && isDigitCode(text.charCodeAt(p))) {
      digits = (Math.imul(digits, 10) + (text.charCodeAt(p) - CODE_0)) | 0; // C int arithmetic
      p++;
    }
    exponent = expNegative ? (exponent - digits) | 0 : (exponent + digits) | 0;
  }
  if (exponent < DBL_MIN_EXP || exponent > DBL_MAX_EXP) return { value: Infinity, end: 0 };
  let p10 = 10;
  let k = exponent < 0 ? -exponent : exponent;
  while (k) {
    if (k & 1) {
      if (exponent < 0) number /= p10;
      else number *= p10;
    }
    k >>= 1;
    p10 *= p10;
  }
  return { value: number, end: p };
}

/** parse_special(): strncasecmp prefixes, in rrdtool's order; NaN signs are rrdtool's. */
function parseSpecial(text: string): number | null {
  const lower4 = text.slice(0, 4).toLowerCase();
  if (lower4 === '-nan') return NaN; // DNAN
  if (lower4.startsWith('nan')) return POSITIVE_NAN_MARKER;
  if (lower4.startsWith('inf')) return Infinity;
  if (lower4 === '-inf') return -Infinity;
  return null;
}

/**
 * rrdtool's "nan" is -DNAN, the positive NaN. Every NaN the update stores is DNAN (a
 * positive NaN input only ever makes a value unknown), so both parse to NaN here.
 */
const POSITIVE_NAN_MARKER = NaN;

/** Port of rrd_strtodbl(): the value when the whole text is a number, else null (rrdtool's error). */
export function rrdStrtodbl(text: string): number | null {
  const { value, end } = rrdStrtod(text);
  if (end === 0) return parseSpecial(text);
  return end === text.length ? value : null;
}

/** Port of rrd_diff(): `a - b` for two decimal integer strings; NaN where rrdtool gives DNAN. */
export function rrdDiff(a: string, b: string): number {
  const [aDigits, aNeg] = leadingDigits(a);
  const [bDigits, bNeg] = leadingDigits(b);
  if (aDigits.length === 0 || bDigits.length === 0) return NaN;
  if (aNeg !== bNeg) return NaN; // "can not handle numbers with different signs yet"
  const m = Math.max(aDigits.length, bDigits.length);
  if (m > 30 /* LAST_DS_LEN */) return NaN;
  // Digit-by-digit subtraction from the right, as the C code does on characters.
  const res = new Array<number>(m);
  let c = 0;
  let ai = aDigits.length - 1;
  let bi = bDigits.length - 1;
  for (let x = 0; x < m; x++) {
    let r: number;
    if (ai >= 0 && bi >= 0) r = aDigits.charCodeAt(ai) - c - bDigits.charCodeAt(bi) + CODE_0;
    else if (ai >= 0) r = aDigits.charCodeAt(ai) - c;
    else r = CODE_0 - bDigits.charCodeAt(bi) - c + CODE_0;
    if (r < CODE_0) {
      r += 10;
      c = 1;
    } else if (r > CODE_9) {
      r -= 10;
      c = 1;
    } else {
      c = 0;
    }
    res[m - 1 - x] = r;
    ai--;
    bi--;
  }
  let result: number;
  if (c) {
    // Ten's complement of the digits, then negated.
    for (let x = 0; x < m; x++) {
      const i = m - 1 - x;
      let r = CODE_9 - res[i] + c + CODE_0;
      if (r > CODE_9) {
        r -= 10;
        c = 1;
      } else {
        c = 0;
      }
      res[i] = r;
    }
    result = -digitsValue(res);
  } else {
    result = digitsValue(res);
  }
  if (aNeg && bNeg) result = -result;
  return result;
}

/** rrd_diff's scan: skip to the first digit (noting a '-' on the way), keep the digit run. */
function leadingDigits(s: string): [string, boolean] {
  let i = 0;
  let negative = false;
  while (i < s.length && !isDigitCode(s.charCodeAt(i))) {
    if (s.charCodeAt(i) === 45) negative = true;
    i++;
  }
  let j = i;
  while (j < s.length && isDigitCode(s.charCodeAt(j))) j++;
  return [s.slice(i, j), negative];
}

/** rrd_strtod of a run of digit character codes. */
function digitsValue(codes: readonly number[]): number {
  let number = 0;
  for (const code of codes) number = number * 10 + (code - CODE_0);
  return number;
}
