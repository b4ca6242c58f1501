// Mender's paging: page/per_page query parameters, X-Total-Count and a Link header with
// first/prev/next relations.
import { badRequest } from './errors';

export interface Page {
  page: number;
  perPage: number;
}

function positiveInt(raw: unknown, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw badRequest(`invalid ${name} query: "${String(raw)}"`);
  return n;
}

export function parsePage(query: Record<string, unknown>, defaultPerPage: number, maxPerPage: number): Page {
  const page = positiveInt(first(query.page), 'page', 1);
  const perPage = positiveInt(first(query.per_page), 'per_page', defaultPerPage);
  if (perPage > maxPerPage) throw badRequest(`invalid per_page query: "${perPage}" exceeds maximum (${maxPerPage})`);
  return { page, perPage };
}

export function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

export function slicePage<T>(items: readonly T[], p: Page): T[] {
  const start = (p.page - 1) * p.perPage;
  return items.slice(start, start + p.perPage);
}

/** The Link header for `path` (with its other query parameters) at page `p` of `total` items. */
export function linkHeader(path: string, query: Record<string, unknown>, p: Page, total: number): string {
  const make = (page: number, rel: string): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (k === 'page' || k === 'per_page' || v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
    }
    params.set('page', String(page));
    params.set('per_page', String(p.perPage));
    return `<${path}?${params.toString()}>; rel="${rel}"`;
  };
  const links = [make(1, 'first')];
  if (p.page > 1) links.push(make(p.page - 1, 'prev'));
  if (p.page * p.perPage < total) links.push(make(p.page + 1, 'next'));
  return links.join(', ');
}
