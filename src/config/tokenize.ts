/**
 * Lexer for gmetad.conf. The C gmetad reads the file with libdotconf, so this follows
 * dotconf's rules rather than INI's:
 *  - a line ending in a single `\` continues on the next line (before comments are
 *    looked at, so a continued comment swallows the next line, as in dotconf);
 *  - `#` outside quotes starts a comment, also in the middle of a line or a word;
 *  - values are separated by whitespace; "double" and 'single' quotes group text with
 *    spaces and may touch other text (`a"b c"` is one value `ab c`);
 *  - `\x` stands for x anywhere, also inside quotes;
 *  - a quote left open takes the rest of the line (dotconf copies up to the end of the
 *    line); accepted with a warning, since it is almost always a typo;
 *  - `${NAME}` and `${NAME:-default}` are replaced from the environment (unset -> default
 *    or ""); an escaped `\$` is kept literally (dotconf cannot do that; we need it so that
 *    describeConfig output always reads back unchanged).
 * On top of that, gmetad-python's sections `name { ... }` need braces: an unquoted `{` or
 * `}` standing alone as a word is punctuation, anything else (`"{"`, `${X}`) is text.
 */
import { invalid, makeWarning, type ConfigWarning } from './errors';

export type Token =
  /** `quoted`: some of it was quoted or escaped, so `"{"` and `\{` are text, not braces. */
  | { readonly kind: 'word'; readonly text: string; readonly quoted: boolean; readonly line: number }
  | { readonly kind: 'open'; readonly line: number }
  | { readonly kind: 'close'; readonly line: number }
  /** End of a logical line (after continuations are joined). */
  | { readonly kind: 'eol'; readonly line: number };

export type WordToken = Extract<Token, { kind: 'word' }>;

export interface TokenizeOptions {
  /** Used in error messages only. */
  readonly file: string;
  /** Source of `${NAME}` substitutions. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Receives what is accepted but probably not meant (an open quote). */
  readonly onWarning?: (warning: ConfigWarning) => void;
}

interface LogicalLine {
  readonly text: string;
  /** 1-based number of the first physical line. */
  readonly line: number;
}

/** Splits into physical lines and joins `\`-continued ones. */
function logicalLines(text: string): LogicalLine[] {
  const physical = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const out: LogicalLine[] = [];
  let pending: { text: string; line: number } | null = null;
  physical.forEach((raw, index) => {
    const continues = /(^|[^\\])\\$/.test(raw);
    const body = continues ? raw.slice(0, -1) : raw;
    if (pending === null) pending = { text: body, line: index + 1 };
    else pending.text += body;
    if (!continues) {
      out.push(pending);
      pending = null;
    }
  });
  // A continuation on the very last line just ends the file.
  if (pending !== null) out.push(pending);
  return out;
}

/** Turns the whole file into tokens; every logical line ends with an `eol` token. */
export function tokenize(text: string, options: TokenizeOptions): Token[] {
  const tokens: Token[] = [];
  for (const logical of logicalLines(text)) {
    scanLine(logical, options, tokens);
    tokens.push({ kind: 'eol', line: logical.line });
  }
  return tokens;
}

function scanLine(logical: LogicalLine, options: TokenizeOptions, out: Token[]): void {
  const { text, line } = logical;
  let word = '';
  let inWord = false;
  let quoted = false;
  let quote: '"' | "'" | null = null;
  let firstWord: string | null = null;

  const finishWord = (): void => {
    if (!inWord) return;
    if (!quoted && word === '{') out.push({ kind: 'open', line });
    else if (!quoted && word === '}') out.push({ kind: 'close', line });
    else out.push({ kind: 'word', text: word, quoted, line });
    if (firstWord === null) firstWord = word;
    word = '';
    inWord = false;
    quoted = false;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      word += text[i + 1];
      inWord = true;
      quoted = true; // an escaped brace is text, not punctuation
      i += 2;
      continue;
    }
    if (c === '$' && text[i + 1] === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) {
        throw invalid(options.file, line, firstWord ?? (inWord ? word : null), 'unterminated "${" (expected ${NAME} or ${NAME:-default})');
      }
      word += substitute(text.slice(i + 2, close), options.env);
      inWord = true;
      i = close + 1;
      continue;
    }
    if (quote !== null) {
      if (c === quote) quote = null;
      else word += c;
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      quoted = true;
      inWord = true;
    } else if (c === '#') {
      break;
    } else if (/\s/.test(c)) {
      finishWord();
    } else {
      word += c;
      inWord = true;
    }
    i++;
  }
  if (quote !== null) {
    const directive = firstWord ?? word;
    options.onWarning?.(makeWarning(options.file, line, directive,
      `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string: the rest of the line is taken as the value `
      + `(${JSON.stringify(word)}), as the C gmetad does (which also keeps the line end in it)`));
  }
  finishWord();
}

/** `NAME` or `NAME:-default`, as dotconf understands them. */
function substitute(expression: string, env: Readonly<Record<string, string | undefined>>): string {
  const sep = expression.indexOf(':-');
  const name = sep < 0 ? expression : expression.slice(0, sep);
  const fallback = sep < 0 ? '' : expression.slice(sep + 2);
  return env[name] ?? fallback;
}
