// Pure helpers of the Mender client: no server needed.
import * as util from 'node:util';
import { MenderApiError, redact } from '../../provider/mender/errors';
import { backoffDelay, parseRetryAfter } from '../../provider/mender/retry';
import { collect, paginate, parseLinkHeader, pageOfLink } from '../../provider/mender/paging';
import { Semaphore, mapLimited, mapLimitedSettled } from '../../provider/mender/concurrency';
import { createMenderClient } from '../../provider/mender/client';

describe('Retry-After and backoff', () => {
  it('parses delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(['2'])).toBe(2000);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('uses full jitter below an exponential, capped ceiling', () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(10, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(2, opts, () => 0)).toBe(0);
  });
});

describe('Link headers and the pager', () => {
  it('parses rel values, quoted or not', () => {
    const links = parseLinkHeader('</a?page=1&per_page=2>; rel="first", </a?page=3&per_page=2>; rel=next');
    expect(links).toEqual({ first: '/a?page=1&per_page=2', next: '/a?page=3&per_page=2' });
    expect(pageOfLink(links.next)).toBe(3);
    expect(parseLinkHeader(undefined)).toEqual({});
  });

  it('follows next links, stops at the last page, and never loops', async () => {
    const data = [1, 2, 3, 4, 5];
    const asked: number[] = [];
    const fetchPage = async (page: number, perPage: number) => {
      asked.push(page);
      const items = data.slice((page - 1) * perPage, page * perPage);
      const link = page * perPage < data.length ? `</x?page=${page + 1}>; rel="next"` : '</x?page=1>; rel="first"';
      return { items, link };
    };
    expect(await collect(paginate(fetchPage, { perPage: 2 }))).toEqual(data);
    expect(asked).toEqual([1, 2, 3]);

    // A next link pointing back to page 1 stops the pager.
    const loop = async (page: number) => ({ items: [page], link: '</x?page=1>; rel="next"' });
    expect(await collect(paginate(loop, { perPage: 1 }))).toEqual([1]);
  });

  it('uses X-Total-Count, or a short page, without links', async () => {
    const data = Array.from({ length: 7 }, (_, i) => i);
    const byTotal = async (page: number, perPage: number) => ({ items: data.slice((page - 1) * perPage, page * perPage), total: data.length });
    expect(await collect(paginate(byTotal, { perPage: 7 }))).toEqual(data);
    const asked: number[] = [];
    const byShortPage = async (page: number, perPage: number) => {
      asked.push(page);
      return { items: data.slice((page - 1) * perPage, page * perPage) };
    };
    expect(await collect(paginate(byShortPage, { perPage: 3 }))).toEqual(data);
    expect(asked).toEqual([1, 2, 3]);
  });
});

describe('bounded concurrency', () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));

  it('mapLimited keeps order and never exceeds the limit', async () => {
    let active = 0;
    let max = 0;
    const out = await mapLimited([...Array(20).keys()], 3, async (x) => {
      active++;
      max = Math.max(max, active);
      await tick();
      active--;
      return x * 2;
    });
    expect(out).toEqual([...Array(20).keys()].map((x) => x * 2));
    expect(max).toBe(3);
  });

  it('mapLimited fails fast and mapLimitedSettled reports every outcome', async () => {
    const started: number[] = [];
    await expect(
      mapLimited([1, 2, 3, 4, 5, 6], 2, async (x) => {
        started.push(x);
        await tick();
        if (x === 2) throw new Error('boom 2');
        return x;
      }),
    ).rejects.toThrow('boom 2');
    expect(started.length).toBeLessThan(6);

    const settled = await mapLimitedSettled([1, 2, 3], 2, async (x) => {
      if (x === 2) throw new Error('no');
      return x;
    });
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('the semaphore hands slots over in FIFO order', async () => {
    const sem = new Semaphore(1);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => sem.run(async () => { order.push(n); await tick(); })));
    expect(order).toEqual([1, 2, 3]);
    expect(sem.inFlight).toBe(0);
  });
});

describe('errors and secrets', () => {
  it('formats the endpoint, context, server answer and a hint', () => {
    const e = new MenderApiError({
      kind: 'http', method: 'GET', path: '/api/management/v1/inventory/devices/{id}', status: 404,
      serverMessage: 'Device not found', requestId: 'req-1', context: { deviceId: 'dev-9' }, serverUrl: 'https://mender.test',
    });
    expect(e.message).toContain('GET /api/management/v1/inventory/devices/{id} (device dev-9) failed with HTTP 404: Device not found (request_id req-1)');
    expect(e.message).toContain('device dev-9 does not exist on https://mender.test');
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ status: 404, requestId: 'req-1', path: '/api/management/v1/inventory/devices/{id}' });
  });

  it('redacts secrets and any bearer or basic credential', () => {
    expect(redact('token abcd1234 here', ['abcd1234'])).toBe('token [REDACTED] here');
    expect(redact('Authorization: Bearer eyJ.a.b', [])).toBe('Authorization: Bearer [REDACTED]');
  });

  it('a client shows no credentials when inspected or serialized', () => {
    const c = createMenderClient({ serverUrl: 'http://127.0.0.1:1', token: 'super-secret-token-value' });
    expect(util.inspect(c, { showHidden: true, depth: 10 })).not.toContain('super-secret-token-value');
    expect(JSON.stringify(c)).not.toContain('super-secret-token-value');
    c.close();
  });

  it('refuses bad options with a clear message', () => {
    expect(() => createMenderClient({ serverUrl: 'mender.example.com', token: 't' })).toThrow(/not a valid URL/);
    expect(() => createMenderClient({ serverUrl: 'https://mender.example.com' })).toThrow(/MENDER_ACCESS_TOKEN/);
    expect(() => createMenderClient({ serverUrl: 'https://u:p@mender.example.com', token: 't' })).toThrow(/credentials/);
  });
});
