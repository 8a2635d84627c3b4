// The xl.cfg file syntax as Xen 4.17's libxlutil reads it (libxlu_cfg_l.l, libxlu_cfg_y.y,
// libxlu_cfg.c): the same tokens, the same quirks, and the first error message xl prints,
// "<file>:<line>: config parsing error near `<text>': <what>".

/** A value: every scalar is a string (numbers stay text until a key reads them). */
export type XlValue = { kind: 'string'; value: string; line: number } | { kind: 'list'; items: XlValue[]; line: number };

export interface XlSetting {
  name: string;
  value: XlValue;
  /** "+=" (libxlutil refuses to read such a setting as a number). */
  add: boolean;
  /** The line libxlutil's warnings name (where the value starts). */
  line: number;
}

export interface XlSyntaxError {
  /** xl's message, e.g. "x.cfg:3: config parsing error near `64': syntax error, unexpected NUMBER…". */
  message: string;
  line: number;
  /** libxlutil's hint when the file "looks like it contains Python code". */
  python: boolean;
}

// Token kinds, named as bison names them in its messages.
type Kind = 'IDENT' | 'STRING' | 'NUMBER' | 'NEWLINE' | '+=' | "'='" | "';'" | "'['" | "']'" | "','" | '$end';

interface Token {
  kind: Kind;
  /** flex's yytext of the token (the raw text, for "near …"). */
  text: string;
  /** Dequoted string, or the IDENT/NUMBER text. */
  value: string;
  /** bison's location line of the token. */
  line: number;
}

class Stop extends Error {}

/** bison's default stack limit (libxlu_cfg_y.c does not change it). */
const YYMAXDEPTH = 10000;

// flex's rules of libxlu_cfg_l.l, tried at one position: longest match, first rule on a tie.
const IDENT = /[a-z][._0-9a-z]*/y;
const NUMBER = /[0-9][0-9a-fx]*/y;
// flex's "." is any byte but newline; JavaScript's also stops at \r, \u2028 and \u2029.
const COMMENT_NL = /#[^\n]*\n/y;
const SQ_STRING = /'(?:[^'\\\n]|\\[^\n])*'/y;
const DQ_STRING = /"(?:[^"\\\n]|\\[^\n])*"/y;
const NOT_BLANK = /[^ \t\n]*/y;

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : undefined;
}

/** C's strtoul on at most `max` characters: how many characters it consumed (0 if none). */
function strtoulLength(s: string, base: number): number {
  const m = (base === 16 ? /^[ \t\n\v\f\r]*[+-]?(?:0[xX](?=[0-9a-fA-F]))?[0-9a-fA-F]+/ : /^[ \t\n\v\f\r]*[+-]?[0-9]+/).exec(s);
  return m ? m[0].length : 0;
}

class Parser {
  private pos = 0;
  private lineno = 1;
  /** Line of the last token handed to the parser (bison's yylloc at $end). */
  private lastLine = 1;
  private likelyPython = false;
  readonly settings: XlSetting[] = [];
  private lookahead: Token | undefined;
  /** yytext of the last token read (the "+=" error names it). */
  private lastText = '';
  /** The last token read (bison's yylloc and flex's yytext when the stack is exhausted). */
  private lastToken: Token = { kind: '$end', text: '', value: '', line: 1 };
  error: XlSyntaxError | undefined;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  // --- errors (xlu__cfg_yyerror) ---

  private report(line: number, raw: string, msg: string): never {
    let len = raw.length;
    let newline = '';
    if (len > 0 && raw[len - 1] === '\n') {
      len--;
      line--;
      if (!len) newline = '<newline>';
    }
    while (len > 0 && (raw[len - 1] === '\t' || raw[len - 1] === ' ')) len--;
    // xl prints yytext with "%.*s", which stops at a NUL: at end of input yytext is flex's
    // end-of-buffer NUL and xl prints "`'".
    const nul = raw.indexOf('\0');
    const shown = len ? `\`${raw.slice(0, nul >= 0 && nul < len ? nul : len)}'` : '';
    this.error = {
      message: `${this.source}:${line}: config parsing error near ${shown}${newline}: ${msg}`,
      line,
      python: this.likelyPython,
    };
    throw new Stop();
  }

  private lexicalError(raw: string, msg: string): never {
    return this.report(this.lineno, raw, msg);
  }

  // --- the lexer ---

  private advance(s: string): void {
    this.pos += s.length;
    for (const c of s) if (c === '\n') this.lineno++;
  }

  /** xlu__cfgl_dequote, with its quirks: numeric escapes are checked, then dropped. */
  private dequote(raw: string): string {
    // libxlutil's dequote takes the token as a C string: a NUL inside fails its assertion and
    // aborts xl. Refused here, so that no value holds a NUL.
    if (raw.includes('\0')) this.lexicalError(raw, 'NUL character in quoted string');
    let out = '';
    const end = raw.length - 1;
    let p = 1;
    while (p < end) {
      const c = raw[p++];
      if (c !== '\\') {
        out += c;
        continue;
      }
      const nc = raw[p++];
      const simple: Record<string, string> = {
        '"': '"',
        "'": "'",
        '\\': '\\',
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
      };
      if (nc in simple) {
        out += simple[nc];
      } else if (nc === 'x') {
        // libxlutil skips one more character, then wants more than 2 of at most 2 hex
        // digits: every \x escape is an error in 4.17.
        p++;
        const used = strtoulLength(raw.slice(p, Math.min(p + 2, raw.length)), 16);
        if (used <= 2) this.lexicalError(raw, 'invalid digit after backslash hexnumerical character escape in quoted string');
        p += used;
      } else if (nc >= '0' && nc <= '7') {
        // The first octal digit is taken; then 2 or 3 *decimal* digits must follow; the
        // character itself is never stored.
        const used = strtoulLength(raw.slice(p, Math.min(p + 3, raw.length)), 10);
        if (used <= 1) this.lexicalError(raw, 'invalid digit after backslash octalnumerical character escape in quoted string');
        p += used;
      } else {
        this.lexicalError(raw, 'invalid character after backlash in quoted string');
      }
    }
    return out;
  }

  private token(kind: Kind, text: string, value = text, line = this.lineno): Token {
    this.lastLine = line;
    return { kind, text, value, line };
  }

  private lex(): Token {
    const t = this.text;
    for (;;) {
      if (this.pos >= t.length) return { kind: '$end', text: '\0', value: '', line: this.lastLine };
      const c = t[this.pos];
      // Longest match among the rules that can start here.
      const candidates: [string | undefined, string][] = [
        [matchAt(IDENT, t, this.pos), 'IDENT'],
        [matchAt(NUMBER, t, this.pos), 'NUMBER'],
        [c === '\n' ? '\n' : matchAt(COMMENT_NL, t, this.pos), 'NEWLINE'],
        [c === "'" ? matchAt(SQ_STRING, t, this.pos) : c === '"' ? matchAt(DQ_STRING, t, this.pos) : undefined, 'STRING'],
        [t.startsWith('+=', this.pos) ? '+=' : undefined, '+='],
      ];
      let best: [string, string] | undefined;
      for (const [m, k] of candidates) if (m !== undefined && (!best || m.length > best[0].length)) best = [m, k];
      if (best) {
        const [m, k] = best;
        this.advance(m);
        if (k === 'NEWLINE') return this.token('NEWLINE', m, m, this.lineno - 1);
        if (k === 'STRING') return this.token('STRING', m, this.dequote(m));
        return this.token(k as Kind, m);
      }
      if (c === ' ' || c === '\t') {
        this.pos++;
        continue;
      }
      const single: Record<string, Kind> = { ',': "','", '[': "'['", ']': "']'", '=': "'='", ';': "';'" };
      if (single[c]) {
        this.pos++;
        return this.token(single[c], c);
      }
      // Anything else starts a lexical error: flex's yymore() keeps the bad character and
      // then a run of non-blanks, a single blank, or the newline.
      // flex reads bytes: a character beyond ASCII is a bad first byte whose continuation
      // bytes are the run of non-blanks that follows (so it is never at the end of input).
      if ('+,-.():'.includes(c)) this.likelyPython = true;
      this.advance(c);
      const multibyte = c > '\x7f';
      // At end of input the bad character stays in yytext (yymore) and is no error.
      if (this.pos >= t.length && !multibyte) return { kind: '$end', text: c, value: '', line: this.lastLine };
      const n = t[this.pos];
      const more = multibyte
        ? matchAt(NOT_BLANK, t, this.pos)!
        : n === '\n'
          ? '\n'
          : n === ' ' || n === '\t'
            ? n
            : matchAt(NOT_BLANK, t, this.pos)!;
      this.advance(more);
      this.lexicalError(c + more, 'lexical error');
    }
  }

  // --- the parser (the grammar of libxlu_cfg_y.y, with bison's messages) ---

  private peek(): Token {
    if (!this.lookahead) {
      this.lookahead = this.lex();
      this.lastText = this.lookahead.text;
      this.lastToken = this.lookahead;
    }
    return this.lookahead;
  }

  private next(): Token {
    const tok = this.peek();
    this.lookahead = undefined;
    return tok;
  }

  private syntaxError(tok: Token, expecting: string): never {
    return this.report(tok.line, tok.text, `syntax error, unexpected ${tok.kind}, expecting ${expecting}`);
  }

  parse(): void {
    try {
      this.parseFile();
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
  }

  private parseFile(): void {
    for (;;) {
      const tok = this.peek();
      if (tok.kind === '$end') return;
      if (tok.kind === 'NEWLINE' || tok.kind === "';'") {
        this.next();
        continue;
      }
      if (tok.kind !== 'IDENT') this.syntaxError(tok, "$end or IDENT or NEWLINE or ';'");
      this.parseAssignment();
      const end = this.peek();
      if (end.kind === '$end') return;
      if (end.kind === 'NEWLINE' || end.kind === "';'") {
        this.next();
        continue;
      }
      // After an assignment bison first reduces `file` (its default), then finds no $end.
      this.syntaxError(end, '$end');
    }
  }

  private parseAssignment(): void {
    const name = this.next();
    const op = this.next();
    if (op.kind !== "'='" && op.kind !== '+=') this.syntaxError(op, "+= or '='");
    // bison's stack holds state 0, stmts, IDENT and the operator here.
    const value = this.parseValue(4);
    this.store(name.value, op.kind === '+=', value);
  }

  /**
   * bison's stack (YYMAXDEPTH 10000 entries) now holds `entries`: at 10000 xl stops with
   * "memory exhausted" near the last token read. Lists nest 2 entries deep at least, so
   * ~5000 levels at most: the nesting is followed with an explicit stack, not recursion.
   */
  private grow(entries: number): void {
    if (entries >= YYMAXDEPTH) this.report(this.lastToken.line, this.lastToken.text, 'memory exhausted');
  }

  /**
   * A value (the rules value, valuelist, values and nlok), counting bison's stack entries
   * as its LALR parser pushes them; `start` is the count before the value.
   */
  private parseValue(start: number): XlValue {
    const isValue = (t: Token) => t.kind === 'STRING' || t.kind === 'NUMBER' || t.kind === "'['";
    // Open lists: the list, and the stack count before its '['.
    const open: { list: XlValue & { kind: 'list' }; base: number; first: boolean }[] = [];
    let c = start;
    for (;;) {
      const tok = this.next();
      let value: XlValue;
      if (tok.kind === 'STRING' || tok.kind === 'NUMBER') {
        this.grow(c + 1);
        value = { kind: 'string', value: tok.value, line: tok.line };
      } else if (tok.kind === "'['") {
        // '[' then nlok (a default reduction, before the next token is read).
        this.grow(c + 1);
        this.grow(c + 2);
        const list: XlValue & { kind: 'list' } = { kind: 'list', items: [], line: tok.line };
        this.skipNewlines(c + 3);
        const t = this.peek();
        if (t.kind !== "']'") {
          if (!isValue(t)) this.syntaxError(t, "']'");
          open.push({ list, base: c, first: true });
          c += 2;
          continue;
        }
        // An empty valuelist, then ']'.
        this.next();
        this.grow(c + 4);
        value = list;
      } else this.syntaxError(tok, "STRING or NUMBER or '['");
      // A value is complete: add it to its list, and close the lists that end here.
      for (;;) {
        const frame = open[open.length - 1];
        if (!frame) return value;
        const b = frame.base;
        frame.list.items.push(value);
        // The value (after '[' nlok, or after values ',' nlok), then its nlok and newlines.
        const at = frame.first ? b + 3 : b + 6;
        frame.first = false;
        this.grow(at + 1);
        this.skipNewlines(at + 2);
        let t = this.peek();
        if (t.kind === "','") {
          // Reduced to values (b + 3), then ',' and nlok.
          this.next();
          this.grow(b + 4);
          this.grow(b + 5);
          this.skipNewlines(b + 6);
          t = this.peek();
          if (t.kind !== "']'") {
            if (!isValue(t)) this.syntaxError(t, "']'");
            c = b + 5;
            break;
          }
        } else if (t.kind !== "']'") this.syntaxError(t, "']'");
        // valuelist (b + 3), then ']' (b + 4), reduced to the value.
        this.next();
        this.grow(b + 4);
        open.pop();
        value = frame.list;
      }
    }
  }

  /** nlok's NEWLINEs, each shifted onto `entries` - 1 entries. */
  private skipNewlines(entries: number): void {
    while (this.peek().kind === 'NEWLINE') {
      this.next();
      this.grow(entries);
    }
  }

  /** xlu__cfg_set_store: "+=" joins the previous value of the name (strings or lists). */
  private store(name: string, add: boolean, value: XlValue): void {
    if (add) {
      const prev = find(this.settings, name);
      if (prev) {
        if (prev.value.kind !== value.kind) {
          // Reported like a lexical error, at the last token the lexer read.
          this.report(this.lineno, this.lastText, 'can\'t add [list] to "string" or vice versa');
        }
        if (prev.value.kind === 'string' && value.kind === 'string') value = { ...value, value: prev.value.value + value.value };
        else if (prev.value.kind === 'list' && value.kind === 'list') {
          value = { ...value, items: [...prev.value.items, ...value.items] };
          prev.value = { ...prev.value, items: [] };
        }
      }
    }
    this.settings.push({ name, value, add, line: value.line });
  }
}

/** libxlutil's find(): the last setting of a name wins. */
export function find(settings: readonly XlSetting[], name: string): XlSetting | undefined {
  for (let i = settings.length - 1; i >= 0; i--) if (settings[i].name === name) return settings[i];
  return undefined;
}

/** Reads xl.cfg text: the settings in file order, or xl's first error. */
export function parseXlSyntax(text: string, source: string): { settings: XlSetting[]; error?: XlSyntaxError } {
  const p = new Parser(text, source);
  p.parse();
  return p.error ? { settings: p.settings, error: p.error } : { settings: p.settings };
}
