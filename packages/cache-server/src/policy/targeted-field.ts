/**
 * Targeted cache-control fields (RFC 9213 §2.2) are Structured Field Dictionaries (RFC 8941
 * §3.2), parsed strictly: any syntax error makes the whole field invalid so the cache falls back
 * to Cache-Control. Members are mapped back to Cache-Control's shape: Boolean true → bare
 * directive, false → absent, Integer/Decimal/Token → its text, String → its content, Inner List →
 * its items joined by ', '. Parameters are ignored (§2.2).
 *
 * A delta-seconds directive (max-age, …) whose value is not an Integer has the wrong type and is
 * dropped (RFC 9213 §2.2 maps delta-seconds to Integer); a field left with no directive at all is
 * "not valid, non-empty" and the cache falls back to Cache-Control (§2.1).
 *
 * Internal to the policy module: `responseDirectives` (response-control.ts) is the public entry.
 */
type Directives = Map<string, string | true>;

type ItemKind = 'integer' | 'decimal' | 'string' | 'token' | 'boolean' | 'bytes' | 'list';
interface Item {
  kind: ItemKind;
  value: string | boolean;
}

const DELTA_SECONDS_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const NUMBER = /^-?\d{1,15}(\.\d{1,3})?$/;

class SyntaxErr extends Error {}

/** Parses a targeted field; undefined when it is not a valid Dictionary. */
export function parseTargetedField(value: string): Directives | undefined {
  let members: Map<string, Item>;
  try {
    members = new DictionaryParser(value).parse();
  } catch {
    // The parser only throws SyntaxErr: string indexing cannot fail otherwise.
    return undefined;
  }
  const directives: Directives = new Map();
  for (const [name, item] of members) {
    if (item.value === false) continue;
    if (DELTA_SECONDS_DIRECTIVES.has(name) && item.kind !== 'integer') continue;
    directives.set(name, item.value);
  }
  return directives;
}

/** RFC 8941 §4.2.2, minus the bits that do not matter here (parameters are checked, then dropped). */
class DictionaryParser {
  private i = 0;

  constructor(private readonly s: string) {}

  parse(): Map<string, Item> {
    const out = new Map<string, Item>();
    this.skip(/[ \t]/);
    while (this.i < this.s.length) {
      const key = this.key();
      let item: Item = { kind: 'boolean', value: true };
      if (this.peek() === '=') {
        this.i++;
        item = this.peek() === '(' ? this.innerList() : this.bareItem();
      }
      this.parameters();
      // RFC 8941 §4.2.2: a later duplicate key overwrites the earlier one.
      out.set(key, item);
      this.skip(/[ \t]/);
      if (this.i >= this.s.length) break;
      this.expect(',');
      this.skip(/[ \t]/);
      if (this.i >= this.s.length) throw new SyntaxErr('trailing comma');
    }
    return out;
  }

  private key(): string {
    if (!KEY_START.test(this.peek())) throw new SyntaxErr('bad key');
    return this.take(KEY_CHAR);
  }

  private innerList(): Item {
    this.expect('(');
    const items: string[] = [];
    for (;;) {
      this.skip(/ /);
      if (this.peek() === ')') break;
      items.push(String(this.bareItem().value));
      this.parameters();
      if (this.peek() !== ' ' && this.peek() !== ')') throw new SyntaxErr('bad inner list');
    }
    this.i++;
    return { kind: 'list', value: items.join(', ') };
  }

  private parameters(): void {
    while (this.peek() === ';') {
      this.i++;
      this.skip(/ /);
      this.key();
      if (this.peek() === '=') {
        this.i++;
        this.bareItem();
      }
    }
  }

  private bareItem(): Item {
    const c = this.peek();
    if (c === '"') return { kind: 'string', value: this.string() };
    if (c === '?') return { kind: 'boolean', value: this.boolean() };
    if (c === ':') return { kind: 'bytes', value: this.byteSequence() };
    if (c === '-' || /\d/.test(c)) {
      const text = this.number();
      return { kind: text.includes('.') ? 'decimal' : 'integer', value: text };
    }
    if (TOKEN_START.test(c)) return { kind: 'token', value: this.s[this.i++] + this.take(TOKEN_CHAR) };
    throw new SyntaxErr('bad item');
  }

  private string(): string {
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i] as string;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') {
        const next = this.s[++this.i];
        if (next !== '"' && next !== '\\') throw new SyntaxErr('bad escape');
        out += next;
      } else if (c < ' ' || c > '~') {
        throw new SyntaxErr('bad string char');
      } else {
        out += c;
      }
    }
    throw new SyntaxErr('unterminated string');
  }

  private boolean(): boolean {
    const text = this.s.slice(this.i, this.i + 2);
    if (text !== '?0' && text !== '?1') throw new SyntaxErr('bad boolean');
    this.i += 2;
    return text === '?1';
  }

  private byteSequence(): string {
    const end = this.s.indexOf(':', this.i + 1);
    const content = end === -1 ? '' : this.s.slice(this.i + 1, end);
    if (end === -1 || !/^[A-Za-z0-9+/=]*$/.test(content)) throw new SyntaxErr('bad byte sequence');
    this.i = end + 1;
    return content;
  }

  private number(): string {
    const text = (this.s.slice(this.i).match(/^-?[\d.]*/) as RegExpMatchArray)[0];
    if (!NUMBER.test(text) || text.endsWith('.')) throw new SyntaxErr('bad number');
    this.i += text.length;
    return text;
  }

  private peek(): string {
    return this.s[this.i] ?? '';
  }

  private expect(c: string): void {
    if (this.peek() !== c) throw new SyntaxErr(`expected ${c}`);
    this.i++;
  }

  private take(allowed: RegExp): string {
    const start = this.i;
    while (this.i < this.s.length && allowed.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }

  private skip(allowed: RegExp): void {
    this.take(allowed);
  }
}
