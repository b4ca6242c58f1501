// Jinja2 as Ansible evaluates it, on top of nunjucks. Nunjucks parses and runs the templates;
// this module rewrites each template's syntax tree first, where nunjucks and Ansible differ:
//
// - Ansible's undefined is strict: printing an undefined variable, testing it with `if`, or
//   passing it to a filter other than `default`/`mandatory` is an error ("'x' is undefined").
//   Nunjucks prints nothing. Every variable read is wrapped in a check, except where Jinja lets
//   an undefined value through: `x is defined`, `x | default(...)`, `x | mandatory`, `x.y`.
// - An inline if without else (`x if cond`) is undefined when cond is false (nunjucks: '').
//   The talk's runner template relies on it: `(t if (t | length > 0)) | mandatory('…')`.
// - A template that is one expression (`"{{ images }}"`) yields that expression's value, not its
//   text, as Ansible's variables do, so a variable can hold a list built from another.
// - Printed values are Python's: True, False, ['a', 'b'] (nunjucks: true, false, a,b).
// - Nunjucks locates no error raised inside a filter or a function, so `mandatory`, `lookup`
//   and the undefined check get the line they stand on as an argument.
//
// The parser, compiler and node classes used here are nunjucks' own modules, not its documented
// API; package.json pins nunjucks to an exact version, and test/program/ansible-variables.test.ts
// covers each rewrite.
import * as nunjucks from 'nunjucks';
import { JinjaFailure, maskSecrets } from './jinja-failure';
import * as sandbox from './sandbox';

/** The parts of nunjucks' syntax tree this module reads and builds (nunjucks ships no types for them). */
interface JinjaNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: string[];
  [field: string]: unknown;
}
type NodeClass = new (lineno: number, colno: number, ...fields: unknown[]) => JinjaNode;
interface NunjucksInternals {
  parser: { parse(src: string, extensions: unknown[], opts: object): JinjaNode };
  compiler: { Compiler: new (name: string, throwOnUndefined: boolean) => { compile(node: JinjaNode): void; getCode(): string } };
  nodes: Record<'Symbol' | 'Literal' | 'Filter' | 'NodeList' | 'Array', NodeClass>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- nunjucks' transformer is not part of its typed entry point
const transformer = require('nunjucks/src/transformer') as { transform(ast: JinjaNode, asyncFilters: string[]): JinjaNode };
const internals = nunjucks as unknown as NunjucksInternals;
const { Symbol: SymbolNode, Literal, Filter, NodeList, Array: ArrayNode } = internals.nodes;

export { JinjaFailure } from './jinja-failure';

/** A failure located in a fleet file: a template, or the variable file a templated value came from. */
export class TemplateRenderError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${maskSecrets(reason)}`);
    this.reason = maskSecrets(reason);
    this.name = 'TemplateRenderError';
  }
}

/** Names the helpers that the rewritten templates call; a template cannot define them. */
export const HELPER = {
  text: '__fleet_text',
  defined: '__fleet_defined',
  mandatory: '__fleet_mandatory',
  lookup: '__fleet_lookup',
  native: '__fleet_native',
  undefined: '__fleet_undefined',
  member: '__fleet_member',
  method: '__fleet_method',
  call: '__fleet_call',
  filter: '__fleet_filter',
} as const;

/** Filters that accept an undefined value, as in Ansible. */
const ACCEPT_UNDEFINED = new Set(['default', 'd', 'mandatory', HELPER.mandatory]);

const isNode = (value: unknown): value is JinjaNode => typeof value === 'object' && value !== null && 'typename' in value && 'fields' in value;
const children = (node: JinjaNode) => node.children as JinjaNode[];
const literal = (at: JinjaNode, value: unknown) => new Literal(at.lineno, at.colno, value);
const call = (at: JinjaNode, filter: string, args: unknown[]) => new Filter(at.lineno, at.colno, new SymbolNode(at.lineno, at.colno, filter), new NodeList(at.lineno, at.colno, args));

/** `a`, `a.b`, `a["b"]`: the name a message should use; undefined for other expressions. */
function nameOf(node: JinjaNode): string | undefined {
  if (node.typename === 'Symbol') return String(node.value);
  if (node.typename === 'LookupVal') {
    const target = nameOf(node.target as JinjaNode);
    const key = node.val as JinjaNode;
    if (target && key.typename === 'Literal') return typeof key.value === 'number' ? `${target}[${key.value}]` : `${target}.${String(key.value)}`;
  }
  return undefined;
}

/** Wraps a read of a variable in the undefined check; other expressions are rewritten inside. */
function used(node: JinjaNode): JinjaNode {
  const name = nameOf(node);
  const rewritten = rewrite(node);
  return name ? call(node, HELPER.defined, [rewritten, literal(node, node.lineno + 1), literal(node, name)]) : rewritten;
}

function rewrite(node: JinjaNode): JinjaNode {
  switch (node.typename) {
    case 'Symbol':
    case 'Literal':
    case 'TemplateData':
      return node;
    case 'LookupVal':
      // `a.b` of an undefined `a` is undefined (Ansible's undefined chains); the check is on the whole read.
      // The read itself goes through the sandbox (sandbox.ts), never nunjucks' memberLookup.
      return call(node, HELPER.member, [rewrite(node.target as JinjaNode), used(node.val as JinjaNode), literal(node, node.lineno + 1)]);
    case 'Is':
      node.left = rewrite(node.left as JinjaNode);
      return node;
    case 'Output':
      node.children = children(node).map((child) => (child.typename === 'TemplateData' ? child : call(child, HELPER.text, [used(child)])));
      return node;
    case 'InlineIf':
      node.cond = used(node.cond as JinjaNode);
      node.body = used(node.body as JinjaNode);
      node.else_ = node.else_ ? used(node.else_ as JinjaNode) : new SymbolNode(node.lineno, node.colno, HELPER.undefined);
      return node;
    case 'Filter': {
      const name = String((node.name as JinjaNode).value);
      const args = children(node.args as JinjaNode);
      const [input, ...rest] = args;
      const rewrittenArgs = [ACCEPT_UNDEFINED.has(name) ? rewrite(input) : used(input), ...rest.map(used)];
      if (name === 'mandatory') {
        (node.name as JinjaNode).value = HELPER.mandatory;
        node.args = new NodeList(node.lineno, node.colno, [rewrittenArgs[0], literal(node, node.lineno + 1), literal(node, nameOf(input) ?? ''), ...rewrittenArgs.slice(1)]);
      } else if (Object.values(HELPER).includes(name as never)) {
        (node.args as JinjaNode).children = rewrittenArgs;
      } else {
        // A fleet's filter by name, located at its line (nunjucks locates no error inside a filter).
        (node.name as JinjaNode).value = HELPER.filter;
        node.args = new NodeList(node.lineno, node.colno, [literal(node, name), literal(node, node.lineno + 1), ...rewrittenArgs]);
      }
      return node;
    }
    case 'FunCall': {
      const callee = node.name as JinjaNode;
      const args = node.args as JinjaNode;
      args.children = children(args).map(used);
      if (callee.typename === 'Symbol' && callee.value === 'lookup') {
        callee.value = HELPER.lookup;
        args.children = [literal(node, node.lineno + 1), ...children(args)];
        return node;
      }
      // Every other call goes through the sandbox: `x.split(',')` as a Python method of a value,
      // `m(1)` as a call of a macro or built-in.
      const line = literal(node, node.lineno + 1);
      if (callee.typename === 'LookupVal') {
        return call(node, HELPER.method, [rewrite(callee.target as JinjaNode), used(callee.val as JinjaNode), line, new ArrayNode(node.lineno, node.colno, children(args))]);
      }
      return call(node, HELPER.call, [rewrite(callee), line, literal(node, nameOf(callee) ?? 'an expression'), new ArrayNode(node.lineno, node.colno, children(args))]);
    }
    case 'Pair':
      node.value = used(node.value as JinjaNode);
      return node;
    case 'For':
      node.arr = used(node.arr as JinjaNode);
      node.body = rewrite(node.body as JinjaNode);
      if (node.else_) node.else_ = rewrite(node.else_ as JinjaNode);
      return node;
    case 'Set':
      if (node.value) node.value = used(node.value as JinjaNode);
      if (node.body) node.body = rewrite(node.body as JinjaNode);
      return node;
    case 'Macro':
    case 'Caller':
      node.body = rewrite(node.body as JinjaNode);
      return node;
    default:
      // Statements and operators: every operand is a use of its value.
      for (const field of node.fields) {
        const value = node[field];
        if (isNode(value)) node[field] = value.typename === 'NodeList' || value.typename === 'Output' || value.typename === 'Root' ? rewrite(value) : used(value);
        else if (Array.isArray(value)) node[field] = value.map((child: unknown) => (isNode(child) ? used(child) : child));
      }
      if (Array.isArray(node.children) && !node.fields.includes('children')) node.children = children(node).map(used);
      return node;
  }
}

/** A value as Ansible prints it (Python's str, but None as ''): True, False, ['a', 1], {'k': 'v'}. */
function printed(value: unknown): unknown {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'number' || value instanceof nunjucks.runtime.SafeString) return value;
  return pythonRepr(value);
}

function pythonRepr(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return 'None';
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`;
  return String(value);
}

/** Nunjucks' code for a template, compiled once per text and shared by every device. */
interface CompiledTemplate {
  props: object;
  /** The template is a single expression, whose value is the result. */
  native: boolean;
}

const PARSE_OPTIONS = { trimBlocks: true, lstripBlocks: true };
const compiled = new Map<string, CompiledTemplate>();

function compile(text: string, name: string): CompiledTemplate {
  const key = `${name}\0${text}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const root = internals.parser.parse(text, [], PARSE_OPTIONS);
  sandbox.checkSyntax(root);
  // Ansible returns the value of a template that is exactly one `{{ expression }}`.
  const outputs = children(root);
  const native = outputs.length === 1 && outputs[0].typename === 'Output' && children(outputs[0]).length === 1 && children(outputs[0])[0].typename !== 'TemplateData';
  rewrite(root);
  if (native) {
    // The value itself, not its text: unwrap the text conversion rewrite() put around it.
    const output = outputs[0];
    output.children = [call(output, HELPER.native, [children(children(output)[0].args as JinjaNode)[0]])];
  }
  const compiler = new internals.compiler.Compiler(name, false);
  compiler.compile(transformer.transform(root, []));
  // As nunjucks itself loads compiled templates.
  const result = { props: new Function(compiler.getCode())() as object, native };
  compiled.set(key, result);
  return result;
}

export interface JinjaScope {
  /** Whether the scope has a variable of that name (checked before `get`). */
  has(name: string): boolean;
  get(name: string): unknown;
  /** `lookup(kind, …)` at a line of the template being rendered. */
  lookup(line: number, kind: string, args: unknown[]): unknown;
}

/**
 * An environment bound to one scope (one device): its variables are read through the scope when
 * a template uses them, never copied in advance, so they are templated lazily as in Ansible.
 */
export class AnsibleJinja {
  private readonly env: nunjucks.Environment;
  private readonly natives: unknown[] = [];
  private depth = 0;
  /**
   * The first failure of the current render. Nunjucks wraps whatever a filter or a variable read
   * throws into its own error and loses the original, so it is kept here and thrown instead.
   */
  private failure: unknown;

  constructor(scope: JinjaScope) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the call helper needs nunjucks' `this` (the render context) and this instance
    const self = this;
    const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false, ...PARSE_OPTIONS });
    env.addFilter(HELPER.text, printed);
    env.addFilter(HELPER.defined, (value: unknown, line: number, name: string) => {
      if (value === undefined) throw this.fail(new JinjaFailure(line, `'${name}' is undefined`));
      return value;
    });
    env.addFilter(HELPER.mandatory, (value: unknown, line: number, name: string, message?: unknown) => {
      if (value !== undefined) return value;
      if (message !== undefined && message !== null) throw this.fail(new JinjaFailure(line, String(message)));
      throw this.fail(new JinjaFailure(line, `${name ? `"${name}" is mandatory but` : 'a mandatory variable is'} not defined`));
    });
    env.addFilter(HELPER.native, (value: unknown) => {
      this.natives.push(value);
      return '';
    });
    env.addFilter('d', (value: unknown, fallback: unknown, boolean?: boolean) => ((boolean ? value : value !== undefined) ? value : fallback));
    env.addFilter('to_json', (value: unknown) => JSON.stringify(value));
    env.addFilter('from_json', (value: unknown) => JSON.parse(String(value)) as unknown);
    // Ansible's bool: true, yes, on and 1 (any case) are true; a boolean stays as it is.
    env.addFilter('bool', (value: unknown) => (typeof value === 'boolean' ? value : ['true', 'yes', 'on', '1'].includes(String(value).toLowerCase())));
    env.addFilter(HELPER.member, (obj: unknown, key: unknown, line: number) => this.guard(() => sandbox.member(obj, key, line)));
    env.addFilter(HELPER.method, (obj: unknown, name: unknown, line: number, args: unknown[]) => this.guard(() => sandbox.method(obj, name, line, args)));
    env.addFilter(HELPER.call, function (this: unknown, fn: unknown, line: number, name: string, args: unknown[]) {
      return self.guard(() => sandbox.call(this, fn, line, name, args));
    });
    // Filters and tests by name: only the ones registered, never an inherited member of the table.
    const tables = env as unknown as { filters: Record<string, unknown>; tests: Record<string, unknown> };
    for (const [table, kind] of [['filters', 'filter'], ['tests', 'test']] as const) {
      const method = kind === 'filter' ? 'getFilter' : 'getTest';
      (env as unknown as Record<string, (name: string) => unknown>)[method] = (name: string) => {
        if (!Object.prototype.hasOwnProperty.call(tables[table], name)) throw new Error(`${kind} not found: ${name}`);
        return tables[table][name];
      };
    }
    const filters = tables.filters;
    env.addFilter(HELPER.filter, function (this: unknown, name: string, line: number, ...args: unknown[]) {
      return self.guard(() => sandbox.applyFilter(this, filters, name, line, args));
    });
    env.addGlobal('range', sandbox.range);
    env.addGlobal(HELPER.lookup, (line: number, kind: string, ...args: unknown[]) => this.guard(() => scope.lookup(line, kind, args)));
    // The template's free variables: the built-in globals (range, cycler, joiner, the helpers)
    // and, behind them, the scope. Nunjucks asks `name in globals` and then reads globals[name].
    const builtins = (env as unknown as { globals: Record<string, unknown> }).globals;
    (env as unknown as { globals: object }).globals = new Proxy(builtins, {
      has: (target, name) => typeof name === 'string' && (scope.has(name) || Object.prototype.hasOwnProperty.call(target, name)),
      get: (target, name) => (typeof name === 'string' && scope.has(name) ? this.guard(() => scope.get(name)) : (target as Record<string | symbol, unknown>)[name]),
    });
    this.env = env;
  }

  /**
   * Renders a template; a template that is a single expression returns its value. Throws
   * JinjaFailure (with the template's line) or nunjucks' own errors (syntax, type errors).
   */
  render(text: string, name: string): unknown {
    if (this.depth === 0) this.failure = undefined;
    this.depth++;
    try {
      const template = this.guard(() => compile(text, name));
      const natives = this.natives.length;
      let output: string;
      try {
        output = new nunjucks.Template({ type: 'code', obj: template.props } as unknown as string, this.env, name).render({});
      } catch (error) {
        throw this.failure ?? error;
      }
      if (!template.native) return output;
      return this.natives.splice(natives).at(-1);
    } finally {
      this.depth--;
    }
  }

  // The innermost failure wins, unless a caller has since located it in a file.
  private fail(error: unknown): unknown {
    if (this.failure === undefined || (error instanceof TemplateRenderError && !(this.failure instanceof TemplateRenderError))) this.failure = error;
    return error;
  }

  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw this.fail(error);
    }
  }
}

/** Whether a string is a template (Ansible templates only strings that hold Jinja syntax). */
export const isTemplate = (value: string) => value.includes('{{') || value.includes('{%') || value.includes('{#');
