// What a fleet template can reach. Fleet files come from pull requests, which are not trusted
// until merged, and nunjucks is no sandbox: it compiles a template to JavaScript in which
// `range.constructor("…")()` is the Function constructor. So templates are data: the rewritten
// syntax tree (jinja.ts) sends every attribute read, method call and function call through the
// three functions here, which let through only the fleet's plain values (YAML's maps, lists,
// strings, numbers, booleans), the Python methods Ansible users call on them, and the macros and
// built-ins a template defines or is given. The names refused up front are the ones Jinja2's own
// sandbox refuses (`_`-dunder attributes) plus JavaScript's prototype members.
import * as nunjucks from 'nunjucks';
import { JinjaFailure } from './jinja-failure';

/** Names a template may never use as a variable, attribute, key, filter or test. */
const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

export function isForbiddenName(name: string): boolean {
  return name.startsWith('__') || PROTOTYPE_NAMES.has(name);
}

/** Statements that read other files; a fleet template is one file. */
const FORBIDDEN_STATEMENTS: Record<string, string> = {
  Include: '{% include %}',
  Import: '{% import %}',
  FromImport: '{% from … import %}',
  Extends: '{% extends %}',
  CallExtension: 'a template extension',
  CallExtensionAsync: 'a template extension',
};

interface SyntaxNode {
  typename: string;
  lineno: number;
  fields: string[];
  [field: string]: unknown;
}
const isNode = (value: unknown): value is SyntaxNode => typeof value === 'object' && value !== null && 'typename' in value && 'fields' in value;

const refusal = (line: number | undefined, what: string) =>
  new JinjaFailure(line, `${what} is refused: a fleet template reaches only the fleet's values, never JavaScript or the host`);

/**
 * Refuses, before anything runs, every name and statement a template may not use. Throws
 * JinjaFailure at the line (1-based) of the first one.
 */
export function checkSyntax(root: SyntaxNode): void {
  const visit = (node: SyntaxNode) => {
    const line = node.lineno + 1;
    const statement = FORBIDDEN_STATEMENTS[node.typename];
    if (statement) throw new JinjaFailure(line, `${statement} is not supported: a fleet template is one file and reads no other`);
    if (node.typename === 'Symbol' && isForbiddenName(String(node.value))) throw refusal(line, `the name '${String(node.value)}'`);
    if (node.typename === 'LookupVal') {
      const key = node.val as SyntaxNode;
      if (key.typename === 'Literal' && typeof key.value === 'string' && isForbiddenName(key.value)) throw refusal(line, `the attribute '${key.value}'`);
    }
    if (node.typename === 'Pair') {
      const key = node.key as SyntaxNode;
      if (key.typename === 'Literal' && typeof key.value === 'string' && isForbiddenName(key.value)) throw refusal(line, `the key '${key.value}'`);
    }
    for (const field of node.fields) {
      const value = node[field];
      if (isNode(value)) visit(value);
      else if (Array.isArray(value)) for (const child of value) if (isNode(child)) visit(child);
    }
    if (Array.isArray(node.children) && !node.fields.includes('children')) for (const child of node.children) if (isNode(child)) visit(child);
  };
  visit(root);
}

const isPlainObject = (value: object) => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

const kindOf = (value: unknown): string => {
  if (typeof value === 'string' || value instanceof nunjucks.runtime.SafeString) return 'str';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'function') return 'function';
  if (typeof value === 'object' && value !== null) return isPlainObject(value) ? 'dict' : 'object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  return 'none';
};

/** Python's index, negative counting from the end. */
const indexInto = (length: number, key: number) => (Number.isInteger(key) ? (key < 0 ? length + key : key) : -1);

function checkKey(key: unknown, line: number): string | number {
  if (typeof key === 'number') return key;
  if (typeof key !== 'string') throw new JinjaFailure(line, `an attribute or index must be a string or a number, not a ${kindOf(key)}`);
  if (isForbiddenName(key)) throw refusal(line, `the attribute '${key}'`);
  return key;
}

/** `obj.key` and `obj[key]`: an own value of a plain map, an item of a list or string; else undefined. */
export function member(obj: unknown, key: unknown, line: number): unknown {
  const name = checkKey(key, line);
  if (obj === undefined || obj === null) return undefined;
  if (typeof obj === 'function') throw refusal(line, `an attribute of a function ('${String(name)}')`);
  if (typeof obj === 'string' || obj instanceof nunjucks.runtime.SafeString) {
    const text = String(obj);
    if (typeof name !== 'number') return undefined;
    const at = indexInto(text.length, name);
    return at >= 0 && at < text.length ? text[at] : undefined;
  }
  if (Array.isArray(obj)) {
    if (typeof name !== 'number') return undefined;
    const at = indexInto(obj.length, name);
    return at >= 0 && at < obj.length ? (obj[at] as unknown) : undefined;
  }
  if (typeof obj === 'object') {
    if (!isPlainObject(obj)) throw refusal(line, `an attribute of a ${kindOf(obj)} value ('${String(name)}')`);
    return Object.prototype.hasOwnProperty.call(obj, name) ? (obj as Record<string | number, unknown>)[name] : undefined;
  }
  return undefined;
}

type Method = (self: never, ...args: unknown[]) => unknown;
const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));
const stripper = (mode: 'both' | 'start' | 'end') => (self: string, chars?: unknown) => {
  const set = chars === undefined || chars === null ? ' \t\n\r\f\v' : text(chars);
  let start = 0;
  let end = self.length;
  if (mode !== 'end') while (start < end && set.includes(self[start])) start++;
  if (mode !== 'start') while (end > start && set.includes(self[end - 1])) end--;
  return self.slice(start, end);
};
const affixes = (value: unknown) => (Array.isArray(value) ? value.map(text) : [text(value)]);

/** Python's str methods that Ansible templates use, with Python's results. */
const STR_METHODS: Record<string, Method> = {
  upper: (self: string) => self.toUpperCase(),
  lower: (self: string) => self.toLowerCase(),
  capitalize: (self: string) => self.charAt(0).toUpperCase() + self.slice(1).toLowerCase(),
  title: (self: string) => self.toLowerCase().replace(/(^|[^a-z])([a-z])/g, (_m, before: string, letter: string) => before + letter.toUpperCase()),
  strip: stripper('both'),
  lstrip: stripper('start'),
  rstrip: stripper('end'),
  startswith: (self: string, prefix: unknown) => affixes(prefix).some((p) => self.startsWith(p)),
  endswith: (self: string, suffix: unknown) => affixes(suffix).some((s) => self.endsWith(s)),
  find: (self: string, sub: unknown) => self.indexOf(text(sub)),
  count: (self: string, sub: unknown) => (text(sub) === '' ? self.length + 1 : self.split(text(sub)).length - 1),
  join: (self: string, items: unknown) => (Array.isArray(items) ? items.map(text).join(self) : text(items).split('').join(self)),
  replace: (self: string, old: unknown, replacement: unknown, count?: unknown) => {
    const parts = self.split(text(old));
    const limit = typeof count === 'number' && count >= 0 ? count : parts.length;
    return parts.slice(0, limit + 1).join(text(replacement)) + (limit + 1 < parts.length ? text(old) + parts.slice(limit + 1).join(text(old)) : '');
  },
  split: (self: string, separator?: unknown, maxsplit?: unknown) => {
    const limit = typeof maxsplit === 'number' && maxsplit >= 0 ? maxsplit : Infinity;
    // Python's split() without a separator splits on runs of whitespace and drops empty ends.
    const words = separator === undefined || separator === null ? self.trim().split(/\s+/).filter(Boolean) : self.split(text(separator));
    if (words.length <= limit + 1) return words;
    const sep = separator === undefined || separator === null ? ' ' : text(separator);
    return [...words.slice(0, limit), words.slice(limit).join(sep)];
  },
};

const LIST_METHODS: Record<string, Method> = {
  index: (self: unknown[], item: unknown) => {
    const at = self.indexOf(item);
    if (at < 0) throw new Error(`${text(item)} is not in list`);
    return at;
  },
  count: (self: unknown[], item: unknown) => self.filter((x) => x === item).length,
};

const DICT_METHODS: Record<string, Method> = {
  items: (self: Record<string, unknown>) => Object.entries(self),
  keys: (self: Record<string, unknown>) => Object.keys(self),
  values: (self: Record<string, unknown>) => Object.values(self),
  get: (self: Record<string, unknown>, key: unknown, fallback: unknown = null) => (Object.prototype.hasOwnProperty.call(self, text(key)) ? self[text(key)] : fallback),
};

const nativeSource = /\{\s*\[native code\]\s*\}\s*$/;
const isNativeFunction = (fn: (...args: unknown[]) => unknown) => nativeSource.test(Function.prototype.toString.call(fn));

/** `obj.name(args)`: a Python method of a string, list or dict, or a function a built-in returned (cycler's next). */
export function method(obj: unknown, name: unknown, line: number, args: unknown[]): unknown {
  const key = checkKey(name, line);
  const kind = kindOf(obj);
  const table = kind === 'str' ? STR_METHODS : kind === 'list' ? LIST_METHODS : kind === 'dict' ? DICT_METHODS : undefined;
  if (kind === 'dict') {
    const own = Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string | number, unknown>)[key] : undefined;
    if (typeof own === 'function') return located(line, () => callable(own as (...a: unknown[]) => unknown, line, String(key)).apply(obj, args));
  }
  const found = table && typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
  if (!found) {
    const offered = table ? ` (a ${kind} offers ${Object.keys(table).join(', ')})` : '';
    throw new JinjaFailure(line, `'${kind}' has no method '${String(key)}' a fleet template can call${offered}`);
  }
  const self = kind === 'str' ? String(obj) : obj;
  return located(line, () => (found as (self: unknown, ...a: unknown[]) => unknown)(self, ...args));
}

function callable(fn: unknown, line: number, name: string): (...args: unknown[]) => unknown {
  if (typeof fn !== 'function') throw new JinjaFailure(line, `'${name}' is ${fn === undefined ? 'undefined' : `a ${kindOf(fn)}`}, not something a template can call`);
  // Macros, `caller` and the built-ins are JavaScript the template compiler or this project wrote;
  // a native function (Function, Object, eval, a bound method) is never one of them.
  if (isNativeFunction(fn as (...args: unknown[]) => unknown)) throw refusal(line, `calling '${name}'`);
  return fn as (...args: unknown[]) => unknown;
}

/** `name(args)` for a callee that is not an attribute: a macro, `caller`, range, cycler, joiner. */
export function call(context: unknown, fn: unknown, line: number, name: string, args: unknown[]): unknown {
  return located(line, () => callable(fn, line, name).apply(context, args));
}

/** `value | name(args)`: a filter registered by that name (never an inherited member of the table). */
export function applyFilter(context: unknown, filters: Record<string, unknown>, name: string, line: number, args: unknown[]): unknown {
  const filter = Object.prototype.hasOwnProperty.call(filters, name) && !name.startsWith('__') ? filters[name] : undefined;
  if (typeof filter !== 'function') throw new JinjaFailure(line, `there is no filter named '${name}'`);
  return located(line, () => (filter as (...a: unknown[]) => unknown).apply(context, args));
}

/** Nunjucks locates no error raised inside a function; a failure of one is at the line of its call. */
function located<T>(line: number, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof JinjaFailure || !(error instanceof Error)) throw error;
    throw new JinjaFailure(line, error.message);
  }
}

/** Jinja's range, bounded: a template's loop is not a way to exhaust the runner's memory. */
export const RANGE_LIMIT = 100_000;
export function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const length = Math.max(0, Math.ceil((to - from) / step));
  if (!Number.isFinite(length) || length > RANGE_LIMIT) throw new Error(`range() of ${length} items is over the limit of ${RANGE_LIMIT}`);
  return Array.from({ length }, (_x, i) => from + i * step);
}
