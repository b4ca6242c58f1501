// Pagination over Mender list endpoints. Mender pages with `page`/`per_page` (query string, or
// body for the inventory search) and answers with `X-Total-Count` and/or a `Link` header
// (`<...?page=2&per_page=20>; rel="next"`). The pager asks for page numbers only (so every
// request stays one the API describes), uses the `next` link to learn the next page number, and
// stops on: no `next` link when the server sends links, the total reached, a short or empty page.

/** Parses an RFC 8288 Link header into rel -> URL (first URL wins for a rel). */
export function parseLinkHeader(header: unknown): Record<string, string> {
  if (Array.isArray(header)) header = header.join(', ');
  const links: Record<string, string> = {};
  if (typeof header !== 'string' || header.trim() === '') return links;
  const re = /<([^>]*)>\s*((?:;\s*[^;,]+)*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) {
    const url = m[1];
    const relMatch = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
    if (!relMatch) continue;
    for (const rel of (relMatch[1] ?? relMatch[2]).split(/\s+/)) {
      if (rel && !(rel.toLowerCase() in links)) links[rel.toLowerCase()] = url;
    }
  }
  return links;
}

/** The `page` query parameter of a (possibly relative) link, if it is a positive integer. */
export function pageOfLink(link: string): number | undefined {
  try {
    const u = new URL(link, 'http://placeholder.invalid');
    const p = u.searchParams.get('page');
    if (p === null || !/^\d+$/.test(p)) return undefined;
    const n = parseInt(p, 10);
    return n >= 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function parseTotalCount(value: unknown): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^\s*\d+\s*$/.test(value)) return undefined;
  return parseInt(value, 10);
}

export interface PageResult<T> {
  items: T[];
  /** From X-Total-Count, when the server sent it. */
  total?: number;
  /** The raw Link header, when the server sent it. */
  link?: string;
}

export interface PaginateOptions {
  perPage: number;
  /** First page number (1-based). */
  startPage?: number;
  /** Safety stop: never request more pages than this. */
  maxPages?: number;
}

/**
 * Iterates every item of every page. `fetchPage(page, perPage)` fetches one page.
 */
export async function* paginate<T>(fetchPage: (page: number, perPage: number) => Promise<PageResult<T>>, opts: PaginateOptions): AsyncGenerator<T, void, undefined> {
  const perPage = opts.perPage;
  const maxPages = opts.maxPages ?? 100_000;
  let page = opts.startPage ?? 1;
  let seen = 0;
  const visited = new Set<number>();
  for (let n = 0; n < maxPages; n++) {
    visited.add(page);
    const res = await fetchPage(page, perPage);
    for (const item of res.items) yield item;
    seen += res.items.length;
    if (res.items.length === 0) return;

    let nextPage: number | undefined;
    if (res.link !== undefined && res.link.trim() !== '') {
      const links = parseLinkHeader(res.link);
      if (links.next === undefined) return; // the server says this is the last page
      nextPage = pageOfLink(links.next) ?? page + 1;
    } else if (res.total !== undefined) {
      if (seen >= res.total) return;
      nextPage = page + 1;
    } else {
      if (res.items.length < perPage) return;
      nextPage = page + 1;
    }
    // A link that points back to a page we already read would loop forever.
    if (visited.has(nextPage)) return;
    page = nextPage;
  }
}

/** Collects an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
