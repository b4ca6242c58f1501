// Mender's inventory: attributes in scopes (identity, inventory, system, tags), filters,
// sorting and attribute selection for device searches.
import { badRequest } from './errors';
import { AttributeValue, DeviceRecord, Scope } from './types';

export interface AttributeResponse {
  name: string;
  value: AttributeValue;
  scope: Scope;
  description?: string;
}

export interface DeviceInventoryResponse {
  id: string;
  attributes: AttributeResponse[];
  updated_ts: string;
}

export const SCOPES: readonly Scope[] = ['identity', 'inventory', 'system', 'tags', 'monitor'];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

function systemAttributes(d: DeviceRecord): Record<string, AttributeValue> {
  const sys: Record<string, AttributeValue> = { created_ts: d.createdTs, updated_ts: d.updatedTs };
  if (d.group !== undefined) sys.group = d.group;
  return sys;
}

function scopeValues(d: DeviceRecord, scope: Scope): Record<string, AttributeValue> | undefined {
  switch (scope) {
    case 'identity':
      return d.identity;
    case 'inventory':
      return d.inventory;
    case 'tags':
      return d.tags;
    case 'system':
      return undefined;
    case 'monitor':
      return undefined;
  }
}

export function getAttribute(d: DeviceRecord, scope: Scope, name: string): AttributeValue | undefined {
  if (scope === 'inventory') return Object.hasOwn(d.inventory, name) ? d.inventory[name] : undefined;
  if (scope === 'system') {
    if (name === 'group') return d.group;
    if (name === 'created_ts') return d.createdTs;
    if (name === 'updated_ts') return d.updatedTs;
    return undefined;
  }
  const values = scopeValues(d, scope);
  return values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
}

export interface SelectAttribute {
  scope: Scope;
  attribute: string;
}

export function deviceView(d: DeviceRecord, select?: readonly SelectAttribute[]): DeviceInventoryResponse {
  const attributes: AttributeResponse[] = [];
  const push = (scope: Scope, values: Record<string, AttributeValue>): void => {
    for (const [name, value] of Object.entries(values)) {
      // An empty array matches both array alternatives of Mender's value schema; it never
      // comes from a real device, so leave it out.
      if (Array.isArray(value) && value.length === 0) continue;
      attributes.push({ name, value, scope });
    }
  };
  if (select && select.length > 0) {
    for (const s of select) {
      const value = getAttribute(d, s.scope, s.attribute);
      if (value !== undefined) attributes.push({ name: s.attribute, value, scope: s.scope });
    }
  } else {
    push('identity', d.identity);
    push('inventory', d.inventory);
    push('system', systemAttributes(d));
    push('tags', d.tags);
  }
  return { id: d.id, attributes, updated_ts: d.updatedTs };
}

export interface Filter {
  scope: Scope;
  attribute: string;
  type: string;
  value: unknown;
}

type Scalar = string | number | boolean;

function values(v: AttributeValue): Scalar[] {
  return Array.isArray(v) ? v : [v];
}

function compare(a: Scalar, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

const FILTER_TYPES = new Set(['$eq', '$ne', '$in', '$nin', '$exists', '$gt', '$gte', '$lt', '$lte', '$regex']);

/** A predicate for one Mender filter term, with Mongo's array semantics (any element matches). */
export function compileFilter(f: Filter): (d: DeviceRecord) => boolean {
  if (!FILTER_TYPES.has(f.type)) throw badRequest(`invalid filter type: ${f.type}`);
  const get = (d: DeviceRecord): AttributeValue | undefined => getAttribute(d, f.scope, f.attribute);
  const list = (): unknown[] => {
    if (!Array.isArray(f.value)) throw badRequest(`filter ${f.type} requires an array value`);
    return f.value;
  };
  switch (f.type) {
    // The scalar branches avoid allocating: these run 100,000 times per search.
    case '$eq':
      return (d) => {
        const v = get(d);
        if (v === undefined) return false;
        return Array.isArray(v) ? (v as Scalar[]).includes(f.value as Scalar) : v === f.value;
      };
    case '$ne':
      return (d) => {
        const v = get(d);
        if (v === undefined) return true;
        return Array.isArray(v) ? !(v as Scalar[]).includes(f.value as Scalar) : v !== f.value;
      };
    case '$in': {
      const set = new Set(list());
      return (d) => {
        const v = get(d);
        if (v === undefined) return false;
        return Array.isArray(v) ? values(v).some((x) => set.has(x)) : set.has(v);
      };
    }
    case '$nin': {
      const set = new Set(list());
      return (d) => {
        const v = get(d);
        return v === undefined || !values(v).some((x) => set.has(x));
      };
    }
    case '$exists': {
      const want = f.value === true || f.value === 'true';
      return (d) => (get(d) !== undefined) === want;
    }
    case '$regex': {
      if (typeof f.value !== 'string') throw badRequest('filter $regex requires a string value');
      let re: RegExp;
      try {
        re = new RegExp(f.value);
      } catch {
        throw badRequest(`invalid regular expression: ${f.value}`);
      }
      return (d) => {
        const v = get(d);
        return v !== undefined && values(v).some((x) => typeof x === 'string' && re.test(x));
      };
    }
    default: {
      const ok = { $gt: (c: number) => c > 0, $gte: (c: number) => c >= 0, $lt: (c: number) => c < 0, $lte: (c: number) => c <= 0 }[
        f.type as '$gt' | '$gte' | '$lt' | '$lte'
      ];
      return (d) => {
        const v = get(d);
        if (v === undefined) return false;
        return values(v).some((x) => {
          const c = compare(x, f.value);
          return c !== undefined && ok(c);
        });
      };
    }
  }
}

export interface SortCriterion {
  scope: Scope;
  attribute: string;
  order: 'asc' | 'desc';
}

function sortKey(v: AttributeValue | undefined): Scalar | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v[0] : v;
}

/** Missing values first (MongoDB orders null before any value); mixed types by type name. */
function compareKeys(x: Scalar | undefined, y: Scalar | undefined): number {
  if (x === y) return 0;
  if (x === undefined) return -1;
  if (y === undefined) return 1;
  if (typeof x === typeof y) return x < y ? -1 : 1;
  return typeof x < typeof y ? -1 : 1;
}

export function sortDevices(devices: DeviceRecord[], criteria: readonly SortCriterion[]): DeviceRecord[] {
  if (criteria.length === 0) return devices;
  if (criteria.length === 1) {
    const { scope, attribute, order } = criteria[0];
    const dir = order === 'desc' ? -1 : 1;
    const keyed = devices.map((d) => ({ d, k: sortKey(getAttribute(d, scope, attribute)) }));
    keyed.sort((a, b) => dir * compareKeys(a.k, b.k));
    return keyed.map((e) => e.d);
  }
  // Precompute keys so the comparator does not look attributes up O(n log n) times.
  const keyed = devices.map((d) => ({ d, keys: criteria.map((c) => sortKey(getAttribute(d, c.scope, c.attribute))) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      if (x === y) continue;
      const c = compareKeys(x, y);
      return criteria[i].order === 'desc' ? -c : c;
    }
    return 0;
  });
  return keyed.map((k) => k.d);
}

export function searchDevices(all: Iterable<DeviceRecord>, filters: readonly Filter[]): DeviceRecord[] {
  const predicates = filters.map(compileFilter);
  const n = predicates.length;
  const out: DeviceRecord[] = [];
  outer: for (const d of all) {
    for (let i = 0; i < n; i++) if (!predicates[i](d)) continue outer;
    out.push(d);
  }
  return out;
}
