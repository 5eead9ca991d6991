// Selection cuts as expressions over event columns, e.g. "x > 80 && x < 100" or "abs(mjj - 3500) < 200 || tau21 < 0.4",
// parsed by a small recursive-descent parser into a tree and evaluated column-wise over a chunk of events. No eval,
// no Function: the only names an expression can reach are the columns it is given and the functions listed below.
//
// Grammar (precedence from loose to tight, as in C and JavaScript):
//   or      := and ('||' and)*
//   and     := compare ('&&' compare)*
//   compare := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := ('-' | '!') unary | power
//   power   := atom ('^' unary)?                       (right-associative: 2^3^2 = 2^9)
//   atom    := number | name | name '(' or (',' or)* ')' | '(' or ')'
// Comparisons and logic give 1 (true) or 0 (false); an event passes when the whole expression is non-zero.

type Node =
  | { kind: 'number'; value: number }
  | { kind: 'column'; name: string }
  | { kind: 'unary'; op: '-' | '!'; arg: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node }
  | { kind: 'call'; name: string; args: Node[] };

const FUNCTIONS: Record<string, { arity: number; f: (...args: number[]) => number }> = {
  abs: { arity: 1, f: Math.abs },
  sqrt: { arity: 1, f: Math.sqrt },
  exp: { arity: 1, f: Math.exp },
  log: { arity: 1, f: Math.log },
  log10: { arity: 1, f: Math.log10 },
  sin: { arity: 1, f: Math.sin },
  cos: { arity: 1, f: Math.cos },
  min: { arity: 2, f: Math.min },
  max: { arity: 2, f: Math.max },
  pow: { arity: 2, f: Math.pow },
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  '||': (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
  '&&': (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  '<': (a, b) => (a < b ? 1 : 0),
  '<=': (a, b) => (a <= b ? 1 : 0),
  '>': (a, b) => (a > b ? 1 : 0),
  '>=': (a, b) => (a >= b ? 1 : 0),
  '==': (a, b) => (a === b ? 1 : 0),
  '!=': (a, b) => (a !== b ? 1 : 0),
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '^': Math.pow,
};

interface Token {
  text: string;
  at: number;
}

const TOKEN = /\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\|\||&&|<=|>=|==|!=|[-+*/^<>!(),]))/y;

function tokenize(text: string, where: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (text.slice(at).trim() === '') break;
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(text);
    if (!match) {
      const start = at + (text.slice(at).length - text.slice(at).trimStart().length);
      throw new Error(`${where}: unexpected "${text[start]}" at position ${start + 1} of "${text}"; expected a number, a column name, a function or one of + - * / ^ < <= > >= == != && || ! ( )`);
    }
    const token = match[1] ?? match[2] ?? match[3];
    tokens.push({ text: token, at: TOKEN.lastIndex - token.length });
    at = TOKEN.lastIndex;
  }
  return tokens;
}

class Parser {
  private position = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
    private readonly where: string,
  ) {}

  parse(): Node {
    if (this.tokens.length === 0) throw new Error(`${this.where}: the expression is empty`);
    const node = this.or();
    if (this.position < this.tokens.length) this.fail(`unexpected "${this.peek()}"`);
    return node;
  }

  private peek(): string | undefined {
    return this.tokens[this.position]?.text;
  }

  private fail(what: string): never {
    const token = this.tokens[this.position];
    const place = token ? `at position ${token.at + 1}` : 'at the end';
    throw new Error(`${this.where}: ${what} ${place} of "${this.text}"`);
  }

  private expect(text: string): void {
    if (this.peek() !== text) this.fail(`expected "${text}"${this.peek() === undefined ? '' : `, found "${this.peek()}"`}`);
    this.position++;
  }

  private leftAssociative(operators: string[], next: () => Node): Node {
    let left = next();
    while (operators.includes(this.peek() ?? '')) {
      const op = this.tokens[this.position++].text;
      left = { kind: 'binary', op, left, right: next() };
    }
    return left;
  }

  private or = (): Node => this.leftAssociative(['||'], this.and);
  private and = (): Node => this.leftAssociative(['&&'], this.compare);
  private sum = (): Node => this.leftAssociative(['+', '-'], this.product);
  private product = (): Node => this.leftAssociative(['*', '/'], this.unary);

  private compare = (): Node => {
    const left = this.sum();
    const op = this.peek();
    if (op === undefined || !['<', '<=', '>', '>=', '==', '!='].includes(op)) return left;
    this.position++;
    const node: Node = { kind: 'binary', op, left, right: this.sum() };
    if (['<', '<=', '>', '>=', '==', '!='].includes(this.peek() ?? '')) {
      this.fail('comparisons do not chain (write "a < x && x < b", not "a < x < b"):');
    }
    return node;
  };

  private unary = (): Node => {
    const op = this.peek();
    if (op === '-' || op === '!') {
      this.position++;
      return { kind: 'unary', op, arg: this.unary() };
    }
    if (op === '+') {
      this.position++;
      return this.unary();
    }
    return this.power();
  };

  private power = (): Node => {
    const base = this.atom();
    if (this.peek() !== '^') return base;
    this.position++;
    return { kind: 'binary', op: '^', left: base, right: this.unary() };
  };

  private atom = (): Node => {
    const token = this.peek();
    if (token === undefined) this.fail('expected a number, a column name or "("');
    if (token === '(') {
      this.position++;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (/^[\d.]/.test(token)) {
      this.position++;
      return { kind: 'number', value: Number(token) };
    }
    if (/^[A-Za-z_]/.test(token)) {
      this.position++;
      if (this.peek() !== '(') return { kind: 'column', name: token };
      const fn = Object.hasOwn(FUNCTIONS, token) ? FUNCTIONS[token] : undefined;
      if (!fn) {
        this.position--;
        this.fail(`unknown function "${token}" (known: ${Object.keys(FUNCTIONS).join(', ')})`);
      }
      this.position++;
      const args: Node[] = [this.or()];
      while (this.peek() === ',') {
        this.position++;
        args.push(this.or());
      }
      this.expect(')');
      if (args.length !== fn.arity) this.fail(`${token} takes ${fn.arity} argument${fn.arity === 1 ? '' : 's'}, got ${args.length}:`);
      return { kind: 'call', name: token, args };
    }
    this.fail(`unexpected "${token}"`);
  };
}

function columnsOf(node: Node, out: Set<string>): Set<string> {
  if (node.kind === 'column') out.add(node.name);
  else if (node.kind === 'unary') columnsOf(node.arg, out);
  else if (node.kind === 'binary') {
    columnsOf(node.left, out);
    columnsOf(node.right, out);
  } else if (node.kind === 'call') node.args.forEach((a) => columnsOf(a, out));
  return out;
}

/** Evaluates `node` for events [0, count) of `columns` into a new array. */
function evaluate(node: Node, columns: Record<string, ArrayLike<number>>, count: number): Float64Array {
  const out = new Float64Array(count);
  switch (node.kind) {
    case 'number':
      out.fill(node.value);
      return out;
    case 'column': {
      const values = columns[node.name];
      for (let i = 0; i < count; i++) out[i] = values[i];
      return out;
    }
    case 'unary': {
      const arg = evaluate(node.arg, columns, count);
      for (let i = 0; i < count; i++) out[i] = node.op === '-' ? -arg[i] : arg[i] === 0 ? 1 : 0;
      return out;
    }
    case 'binary': {
      const left = evaluate(node.left, columns, count);
      const right = evaluate(node.right, columns, count);
      const f = BINARY[node.op];
      for (let i = 0; i < count; i++) out[i] = f(left[i], right[i]);
      return out;
    }
    case 'call': {
      const args = node.args.map((a) => evaluate(a, columns, count));
      const f = FUNCTIONS[node.name].f;
      for (let i = 0; i < count; i++) out[i] = f(...args.map((a) => a[i]));
      return out;
    }
  }
}

export interface Selection {
  /** The expression as given. */
  readonly text: string;
  /** Column names the expression reads. */
  readonly columns: readonly string[];
  /** 1 where event i of [0, count) passes, else 0. */
  passes(columns: Record<string, ArrayLike<number>>, count: number): Uint8Array;
}

/**
 * Parses a selection over the columns `available` (feature and parameter names); an unknown column, an unknown
 * function or a syntax error is an error naming the place in the expression. `where` names the option in messages.
 */
export function parseSelection(text: string, available: readonly string[], where = 'selection'): Selection {
  const tree = new Parser(tokenize(text, where), text, where).parse();
  const used = [...columnsOf(tree, new Set())];
  const unknown = used.find((name) => !available.includes(name));
  if (unknown !== undefined) throw new Error(`${where}: "${text}" uses column "${unknown}", which the events do not have (they have ${available.join(', ')})`);
  return {
    text,
    columns: used,
    passes(columns, count) {
      const value = evaluate(tree, columns, count);
      const pass = new Uint8Array(count);
      // NaN (e.g. log of a negative value) is not a pass.
      for (let i = 0; i < count; i++) pass[i] = value[i] !== 0 && !Number.isNaN(value[i]) ? 1 : 0;
      return pass;
    },
  };
}
