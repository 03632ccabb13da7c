/**
 * Groups tokens into statements: top-level directives (`name value ...`) and gmetad-python
 * style sections (`name {` ... `}`), whose opening brace may sit on the name's line or
 * alone on the next line. Knows nothing about which directives exist.
 */
import { invalid } from './errors';
import type { Token, WordToken } from './tokenize';

export interface DirectiveStatement {
  readonly kind: 'directive';
  /** Directive name exactly as written. */
  readonly key: string;
  readonly values: readonly string[];
  readonly line: number;
}

export interface SectionStatement {
  readonly kind: 'section';
  readonly name: string;
  readonly line: number;
  readonly directives: readonly DirectiveStatement[];
}

export type Statement = DirectiveStatement | SectionStatement;

interface OpenSection {
  readonly name: string;
  readonly line: number;
  readonly directives: DirectiveStatement[];
}

/** Splits the token stream into logical lines without their `eol`, dropping empty ones. */
function splitLines(tokens: readonly Token[]): Token[][] {
  const lines: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokens) {
    if (token.kind === 'eol') {
      if (current.length > 0) lines.push(current);
      current = [];
    } else {
      current.push(token);
    }
  }
  if (current.length > 0) lines.push(current);
  return lines;
}

export function parseStatements(tokens: readonly Token[], file: string): Statement[] {
  const statements: Statement[] = [];
  let section: OpenSection | null = null;
  // A lone word at the end of a line: a directive without values, or a section name
  // whose `{` is on the next line. Decided when that next line is seen.
  let pendingName: WordToken | null = null;

  const flushPending = (): void => {
    if (pendingName === null) return;
    statements.push({ kind: 'directive', key: pendingName.text, values: [], line: pendingName.line });
    pendingName = null;
  };

  for (const lineTokens of splitLines(tokens)) {
    let i = 0;
    if (pendingName !== null) {
      if (lineTokens[0]!.kind === 'open') {
        section = { name: pendingName.text, line: pendingName.line, directives: [] };
        pendingName = null;
        i = 1;
      } else {
        flushPending();
      }
    }
    while (i < lineTokens.length) {
      const token = lineTokens[i]!;
      if (token.kind === 'close') {
        if (section === null) throw invalid(file, token.line, null, `"}" without an open section`);
        statements.push({ kind: 'section', name: section.name, line: section.line, directives: section.directives });
        section = null;
        i++;
        continue;
      }
      if (token.kind === 'open') {
        if (section !== null) {
          throw invalid(file, token.line, section.name, `nested "{" inside section "${section.name}" (opened at line ${section.line})`);
        }
        throw invalid(file, token.line, null, `"{" without a section name before it`);
      }
      if (token.kind !== 'word') break; // unreachable: splitLines dropped every eol
      // A directive: the key, then words up to the end of the line or a brace.
      const values: string[] = [];
      let j = i + 1;
      for (; j < lineTokens.length; j++) {
        const t = lineTokens[j]!;
        if (t.kind !== 'word') break;
        values.push(t.text);
      }
      const next = lineTokens[j];
      if (next !== undefined && next.kind === 'open') {
        if (section !== null) {
          throw invalid(file, next.line, token.text, `nested "{" inside section "${section.name}" (opened at line ${section.line})`);
        }
        if (values.length > 0) {
          throw invalid(file, token.line, token.text, `a section name is a single word followed by "{", got ${values.length + 1} words`);
        }
        section = { name: token.text, line: token.line, directives: [] };
        i = j + 1;
        continue;
      }
      const statement: DirectiveStatement = { kind: 'directive', key: token.text, values, line: token.line };
      if (section !== null) {
        section.directives.push(statement);
      } else if (values.length === 0 && next === undefined) {
        pendingName = token;
      } else {
        statements.push(statement);
      }
      i = j;
    }
  }
  flushPending();
  if (section !== null) {
    throw invalid(file, section.line, section.name, `section "${section.name}" is never closed with "}"`);
  }
  return statements;
}
