// Who gets through to the dashboard: its token, a loopback Host on its own port, and no other origin or site.
import { describe, expect, it } from 'vitest';
import { DashboardAccess } from '../../../src/ui/dashboard-access.js';

const PORT = 43210;
const access = new DashboardAccess();
const token = access.token;
const host = `127.0.0.1:${PORT}`;
const check = (headers: Record<string, string>, url = `/?token=${token}`) => access.check({ host, ...headers }, url, PORT);

describe('DashboardAccess', () => {
  it('makes a long random token per daemon', () => {
    expect(token).toMatch(/^[\w-]{32}$/);
    expect(new DashboardAccess().token).not.toBe(token);
  });

  it('lets the token through in the query or as a bearer header', () => {
    expect(check({})).toEqual({ ok: true });
    expect(check({ authorization: `Bearer ${token}` }, '/v1/instances')).toEqual({ ok: true });
    expect(check({ host: `localhost:${PORT}` })).toEqual({ ok: true });
    expect(check({ host: `[::1]:${PORT}` })).toEqual({ ok: true });
  });

  it('answers 401 without the right token', () => {
    for (const url of ['/', '/v1/instances', `/?token=${token.slice(1)}`, `/?token=${token}x`, '/?token=']) expect(check({}, url)).toMatchObject({ ok: false, status: 401 });
    expect(check({ authorization: 'Bearer nope' }, '/v1/instances')).toMatchObject({ ok: false, status: 401 });
    // A wrong header is not rescued by a right query: the header is what the page sends.
    expect(check({ authorization: 'Bearer nope' })).toMatchObject({ ok: false, status: 401 });
  });

  it('answers 421 to another Host (DNS rebinding) or another port, even with the token', () => {
    for (const h of ['evil.example', `evil.example:${PORT}`, `api.localhost:${PORT}`, '127.0.0.1:8099', '127.0.0.1', '']) {
      expect(check({ host: h }), h).toMatchObject({ ok: false, status: 421 });
    }
  });

  it('answers 403 to other origins and cross-site requests, even with the token', () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8099', 'http://api.localhost:8099', `https://${host}`, 'null']) {
      expect(check({ origin }), origin).toMatchObject({ ok: false, status: 403 });
    }
    expect(check({ origin: `http://${host}` })).toEqual({ ok: true });
    expect(check({ 'sec-fetch-site': 'cross-site' })).toMatchObject({ ok: false, status: 403 });
    expect(check({ 'sec-fetch-site': 'same-site' })).toMatchObject({ ok: false, status: 403 });
    expect(check({ 'sec-fetch-site': 'same-origin' })).toEqual({ ok: true });
    expect(check({ 'sec-fetch-site': 'none' })).toEqual({ ok: true });
  });
});
