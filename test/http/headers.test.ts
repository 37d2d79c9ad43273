// Security headers (helmet) on every kind of response, a CSP that Swagger UI at /docs satisfies,
// and error bodies that do not reflect long URLs back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/app.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer(async () => {});
});
after(() => server.close());

const get = (url: string) => server.app.inject({ url });
const LONG = 'a'.repeat(10_000);

/** The directives of a Content-Security-Policy header, name -> sources. */
function directives(header: unknown): Map<string, string[]> {
  assert.equal(typeof header, 'string', 'a content-security-policy header');
  const entries = (header as string).split(';').map((d) => d.trim().split(/\s+/));
  return new Map(entries.filter((d) => d[0]).map(([name, ...sources]) => [name, sources]));
}

describe('security headers', () => {
  const responses: [string, () => ReturnType<typeof get>, number][] = [
    ['/healthz', () => get('/healthz'), 200],
    ['a 404', () => get('/v1/nothing'), 404],
    ['a 415 from the error handler', () => server.app.inject({ method: 'POST', url: '/v1/models/x/classify', payload: 'x', headers: { 'content-type': 'text/plain' } }), 415],
    ['/docs', () => get('/docs/'), 200],
    ['the OpenAPI document', () => get('/docs/json'), 200],
  ];
  for (const [name, send, status] of responses) {
    test(`${name}: nosniff, frame and referrer policy, CSP`, async () => {
      const res = await send();
      assert.equal(res.statusCode, status);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(directives(res.headers['content-security-policy']).get('default-src')?.join(' '), "'self'");
    });
  }

  test("the CSP: same-origin scripts, styles and fetches, data: and blob: images, no plugins, no HTTPS upgrade", async () => {
    const csp = directives((await get('/docs/')).headers['content-security-policy']);
    assert.deepEqual(csp.get('script-src'), ["'self'"]);
    assert.deepEqual(csp.get('style-src'), ["'self'"]);
    assert.deepEqual(csp.get('connect-src'), ["'self'"]);
    assert.deepEqual(csp.get('img-src'), ["'self'", 'data:', 'blob:']);
    assert.deepEqual(csp.get('object-src'), ["'none'"]);
    // It would send /docs' scripts to https:// on a server that speaks plain HTTP.
    assert.equal(csp.has('upgrade-insecure-requests'), false);
  });

  test('Swagger UI fits the CSP and nosniff: no inline script or style, same-origin assets with the right types', async () => {
    const html = (await get('/docs/')).body;
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'an inline <script>');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'inline style or an event-handler attribute');
    const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
    const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(scripts.length >= 3 && styles.length >= 1, html);
    // nosniff makes a browser refuse a script or stylesheet served with another content type.
    for (const [assets, type] of [[scripts, /javascript/], [styles, /^text\/css/]] as const) {
      for (const asset of assets) {
        assert.doesNotMatch(asset, /^(?:[a-z]+:)?\/\//i, `${asset} is not same-origin`);
        const res = await get(new URL(asset, 'http://localhost/docs/').pathname);
        assert.equal(res.statusCode, 200, asset);
        assert.match(String(res.headers['content-type']), type, asset);
      }
    }
  });

  test('router errors (bad URL, over-long path parameter) carry nosniff too', async () => {
    for (const url of ['/%zz', `/v1/models/${LONG}`]) {
      assert.equal((await get(url)).headers['x-content-type-options'], 'nosniff', url);
    }
  });
});

describe('error bodies do not echo long URLs', () => {
  const cases: [string, string, number, string][] = [
    ['an unknown route', `/${LONG}`, 404, 'NOT_FOUND'],
    ['an unknown route with a long query string', `/v1/nothing?q=${LONG}`, 404, 'NOT_FOUND'],
    ['a model name over the parameter limit', `/v1/models/${LONG}`, 414, 'URL_TOO_LONG'],
    ['a model name over the parameter limit, deeper', `/v1/models/${LONG}/labels`, 414, 'URL_TOO_LONG'],
  ];
  for (const [name, url, status, code] of cases) {
    test(`${name}: ${status} ${code} with the URL clipped to 100 characters`, async () => {
      const res = await get(url);
      assert.equal(res.statusCode, status);
      const body = res.json();
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode']);
      assert.equal(body.code, code);
      assert.equal(body.statusCode, status);
      assert.ok(res.body.length < 400, `a ${res.body.length}-byte body`);
      assert.ok(body.message.includes(`${url.slice(0, 100)}…`), body.message);
      // Router errors are answered before any hook: the request id is still echoed.
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });
  }

  test('the 414 names the limit; a short URL is quoted whole', async () => {
    assert.match((await get(`/v1/models/${LONG}`)).json().message, /longer than the limit of 100 characters/);
    assert.equal((await get('/v1/nothing')).json().message, 'no route GET /v1/nothing');
  });

  test('the server keeps serving', async () => {
    assert.equal((await get('/healthz')).statusCode, 200);
  });
});
