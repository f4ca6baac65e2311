// The SQL-92 subset of Service Bus rules, parsed: filter predicates (`price > 10 AND
// sys.label = 'yellow'`) and rule actions (`SET priority = 'high'; REMOVE color`). Parsing only;
// src/broker/sql-evaluate.ts gives the trees their meaning. A bad expression throws
// `InvalidRequest` naming the position and what was expected, as Azure refuses such a rule.
import { invalidRequest } from '../errors.js';

export type SqlConstant = string | number | boolean | null;

export interface PropertyRef {
  scope: 'sys' | 'user';
  /** As written, except `sys` names, which are lower-cased (they are case-insensitive). */
  name: string;
}

export type SqlNode =
  | { kind: 'constant'; value: SqlConstant }
  | { kind: 'property'; ref: PropertyRef }
  | { kind: 'newid' }
  | { kind: 'unary'; op: '-' | '+' | 'not'; operand: SqlNode }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/' | '%' | '=' | '<>' | '<' | '<=' | '>' | '>=' | 'and' | 'or'; left: SqlNode; right: SqlNode }
  | { kind: 'isNull'; ref: PropertyRef; negated: boolean }
  | { kind: 'in'; operand: SqlNode; list: SqlNode[]; negated: boolean }
  | { kind: 'like'; operand: SqlNode; pattern: string; escape: string | undefined; negated: boolean }
  | { kind: 'exists'; ref: PropertyRef };

export type SqlStatement = { kind: 'set'; ref: PropertyRef; value: SqlNode } | { kind: 'remove'; ref: PropertyRef };

/** System properties a rule may name (`sys.<name>`, case-insensitive); any other is an error, as in Azure. */
export const SYSTEM_PROPERTIES = new Set([
  'messageid',
  'correlationid',
  'to',
  'replyto',
  'label',
  'subject',
  'sessionid',
  'replytosessionid',
  'contenttype',
  'sequencenumber',
  'enqueuedtimeutc',
  'scheduledenqueuetimeutc',
  'deliverycount',
  'timetolive',
  'size',
  'lockeduntilutc',
  'locktoken',
  'deadlettersource',
  'enqueuedsequencenumber',
  'partitionkey',
  'expiresatutc',
]);

type Token =
  | { type: 'number'; value: number; at: number }
  | { type: 'string'; value: string; at: number }
  | { type: 'word'; value: string; at: number } // identifier or keyword, as written
  | { type: 'name'; value: string; at: number } // [delimited] or "quoted" identifier
  | { type: 'op'; value: string; at: number }
  | { type: 'end'; at: number };

const OPERATORS = ['<>', '!=', '<=', '>=', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ type: 'number', value: Number(m[0]), at });
      i += m[0].length;
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw syntaxError(text, at, 'an unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      tokens.push({ type: 'string', value, at });
    } else if (c === '[' || c === '"') {
      const close = c === '[' ? ']' : '"';
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw syntaxError(text, at, `an unterminated ${c}identifier${close}`);
        if (text[i] === close) {
          if (text[i + 1] === close) {
            value += close;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      tokens.push({ type: 'name', value, at });
    } else if (/[A-Za-z_@$#]/.test(c)) {
      const m = /^[A-Za-z_@$#][A-Za-z0-9_@$#]*/.exec(text.slice(i))!;
      tokens.push({ type: 'word', value: m[0], at });
      i += m[0].length;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw syntaxError(text, at, `the character '${c}'`);
      tokens.push({ type: 'op', value: op === '!=' ? '<>' : op, at });
      i += op.length;
    }
  }
  tokens.push({ type: 'end', at: text.length });
  return tokens;
}

function syntaxError(text: string, at: number, found: string, expected?: string): Error {
  return invalidRequest(
    `The SQL expression ${JSON.stringify(text)} is not valid: ${found} at position ${at}${expected ? `, expected ${expected}` : ''}.`,
  );
}

const KEYWORDS = new Set(['and', 'or', 'not', 'is', 'null', 'in', 'like', 'escape', 'exists', 'true', 'false', 'set', 'remove']);

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.tokens[this.pos + offset]!;
    return t.type === 'word' && t.value.toLowerCase() === word;
  }

  private acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false;
    this.pos++;
    return true;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.type === 'op' && t.value === op;
  }

  private acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.pos++;
    return true;
  }

  fail(expected: string): never {
    const t = this.peek();
    const found = t.type === 'end' ? 'the end of the expression' : `'${this.text.slice(t.at, this.tokens[this.pos + 1]?.at ?? t.at + 1).trim()}'`;
    throw syntaxError(this.text, t.at, found, expected);
  }

  private expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(`'${op}'`);
  }

  expectEnd(): void {
    if (this.peek().type !== 'end') this.fail('the end of the expression');
  }

  atEnd(): boolean {
    return this.peek().type === 'end';
  }

  // predicate := or
  predicate(): SqlNode {
    let left = this.conjunction();
    while (this.acceptWord('or')) left = { kind: 'binary', op: 'or', left, right: this.conjunction() };
    return left;
  }

  private conjunction(): SqlNode {
    let left = this.negation();
    while (this.acceptWord('and')) left = { kind: 'binary', op: 'and', left, right: this.negation() };
    return left;
  }

  private negation(): SqlNode {
    if (this.acceptWord('not')) return { kind: 'unary', op: 'not', operand: this.negation() };
    return this.comparison();
  }

  private comparison(): SqlNode {
    if (this.isWord('exists') && this.tokens[this.pos + 1]?.type === 'op' && (this.tokens[this.pos + 1] as { value: string }).value === '(') {
      this.pos += 2;
      const ref = this.property();
      this.expectOp(')');
      return { kind: 'exists', ref };
    }
    const left = this.additive();
    const t = this.peek();
    if (t.type === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(t.value)) {
      this.pos++;
      return { kind: 'binary', op: t.value as '=', left, right: this.additive() };
    }
    if (this.acceptWord('is')) {
      const negated = this.acceptWord('not');
      if (!this.acceptWord('null')) this.fail("NULL after IS");
      if (left.kind !== 'property') throw invalidRequest(`The SQL expression ${JSON.stringify(this.text)} is not valid: IS [NOT] NULL applies to a property only.`);
      return { kind: 'isNull', ref: left.ref, negated };
    }
    const negated = this.isWord('not') && (this.isWord('in', 1) || this.isWord('like', 1));
    if (negated) this.pos++;
    if (this.acceptWord('in')) {
      this.expectOp('(');
      const list = [this.additive()];
      while (this.acceptOp(',')) list.push(this.additive());
      this.expectOp(')');
      return { kind: 'in', operand: left, list, negated };
    }
    if (this.acceptWord('like')) {
      const pattern = this.next();
      if (pattern.type !== 'string') this.fail('a string pattern after LIKE');
      let escape: string | undefined;
      if (this.acceptWord('escape')) {
        const e = this.next();
        if (e.type !== 'string' || e.value.length !== 1) this.fail('a one-character string after ESCAPE');
        escape = e.value;
      }
      return { kind: 'like', operand: left, pattern: pattern.value, escape, negated };
    }
    if (negated) this.fail('IN or LIKE after NOT');
    return left;
  }

  private additive(): SqlNode {
    let left = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || (t.value !== '+' && t.value !== '-')) return left;
      this.pos++;
      left = { kind: 'binary', op: t.value, left, right: this.multiplicative() };
    }
  }

  private multiplicative(): SqlNode {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.type !== 'op' || (t.value !== '*' && t.value !== '/' && t.value !== '%')) return left;
      this.pos++;
      left = { kind: 'binary', op: t.value, left, right: this.unary() };
    }
  }

  private unary(): SqlNode {
    if (this.acceptOp('-')) return { kind: 'unary', op: '-', operand: this.unary() };
    if (this.acceptOp('+')) return { kind: 'unary', op: '+', operand: this.unary() };
    return this.primary();
  }

  private primary(): SqlNode {
    const t = this.peek();
    if (t.type === 'number') {
      this.pos++;
      return { kind: 'constant', value: t.value };
    }
    if (t.type === 'string') {
      this.pos++;
      return { kind: 'constant', value: t.value };
    }
    if (this.acceptOp('(')) {
      const inner = this.predicate();
      this.expectOp(')');
      return inner;
    }
    if (t.type === 'word') {
      const lower = t.value.toLowerCase();
      if (lower === 'true' || lower === 'false') {
        this.pos++;
        return { kind: 'constant', value: lower === 'true' };
      }
      if (lower === 'null') {
        this.pos++;
        return { kind: 'constant', value: null };
      }
      if (lower === 'newid' && this.tokens[this.pos + 1]?.type === 'op' && (this.tokens[this.pos + 1] as { value: string }).value === '(') {
        this.pos += 2;
        this.expectOp(')');
        return { kind: 'newid' };
      }
    }
    if (t.type === 'word' || t.type === 'name') return { kind: 'property', ref: this.property() };
    return this.fail('a constant, a property or a parenthesised expression');
  }

  property(): PropertyRef {
    const first = this.next();
    if (first.type !== 'word' && first.type !== 'name') {
      this.pos--;
      return this.fail('a property name');
    }
    if (first.type === 'word' && KEYWORDS.has(first.value.toLowerCase())) {
      this.pos--;
      return this.fail('a property name (keywords need [brackets])');
    }
    const scope = first.value.toLowerCase();
    if (first.type === 'word' && (scope === 'sys' || scope === 'user') && this.acceptOp('.')) {
      const name = this.next();
      if (name.type !== 'word' && name.type !== 'name') {
        this.pos--;
        return this.fail(`a property name after '${first.value}.'`);
      }
      if (scope === 'user') return { scope: 'user', name: name.value };
      const sys = name.value.toLowerCase();
      if (!SYSTEM_PROPERTIES.has(sys)) {
        throw invalidRequest(`The SQL expression ${JSON.stringify(this.text)} is not valid: '${name.value}' is not a system property (sys.${name.value}).`);
      }
      return { scope: 'sys', name: sys };
    }
    return { scope: 'user', name: first.value };
  }

  // statements := statement (';' statement)* [';']
  statements(): SqlStatement[] {
    const out: SqlStatement[] = [];
    while (!this.atEnd()) {
      if (this.acceptWord('set')) {
        const ref = this.property();
        this.expectOp('=');
        out.push({ kind: 'set', ref, value: this.predicate() });
      } else if (this.acceptWord('remove')) {
        out.push({ kind: 'remove', ref: this.property() });
      } else {
        this.fail('SET or REMOVE');
      }
      if (!this.acceptOp(';')) break;
    }
    this.expectEnd();
    if (out.length === 0) throw invalidRequest('A rule action needs at least one SET or REMOVE statement.');
    return out;
  }
}

/** Parses a filter expression (a predicate). */
export function parseSqlFilter(text: string): SqlNode {
  if (typeof text !== 'string' || text.trim() === '') throw invalidRequest('A SQL filter needs a non-empty expression.');
  if (text.length > 1024) throw invalidRequest(`A SQL filter expression is at most 1024 characters (got ${text.length}).`);
  const parser = new Parser(text);
  const node = parser.predicate();
  parser.expectEnd();
  return node;
}

/** Parses a rule action (`SET …`, `REMOVE …`, separated by `;`). */
export function parseSqlAction(text: string): SqlStatement[] {
  if (typeof text !== 'string' || text.trim() === '') throw invalidRequest('A SQL rule action needs a non-empty expression.');
  if (text.length > 1024) throw invalidRequest(`A SQL rule action is at most 1024 characters (got ${text.length}).`);
  return new Parser(text).statements();
}
