// The configuration (src/config.ts): the variables of model control, API keys and rate limiting
// (issue #13 item 5), with their defaults, what each accepts and refuses (the refusal naming the
// variable, and never quoting a secret), and the README's table listing every variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ConfigError, ENV_NAMES, loadConfig } from '../src/config.ts';

const TOKEN = 'a'.repeat(16);

/** loadConfig refuses `env`, naming `variable` in its message. */
function refuses(env: Record<string, string>, variable: string): void {
  assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.message.includes(`${variable}=`), JSON.stringify(env));
}

test('defaults: model control off, no API keys, no rate limit', () => {
  const config = loadConfig({});
  assert.equal(config.modelControlToken, '');
  assert.equal(config.apiKeys, '');
  assert.equal(config.rateLimitMax, 0);
  assert.equal(config.rateLimitWindowMs, 60_000);
});

test('MODEL_CONTROL_TOKEN: 16-256 token characters', () => {
  for (const token of [TOKEN, 'x'.repeat(256), 'Ab0._~+/-'.repeat(2), `${'b'.repeat(20)}==`]) assert.equal(loadConfig({ MODEL_CONTROL_TOKEN: token }).modelControlToken, token);
  for (const bad of ['short', 'a'.repeat(15), 'a'.repeat(257), `${TOKEN} x`, `${TOKEN},${TOKEN}`, `${TOKEN}"`, `${TOKEN}é`]) refuses({ MODEL_CONTROL_TOKEN: bad }, 'MODEL_CONTROL_TOKEN');
});

test('API_KEYS: a comma-separated list of such keys, spaces around them allowed', () => {
  const keys = ` ${TOKEN} , ${'c'.repeat(32)} `;
  assert.equal(loadConfig({ API_KEYS: keys }).apiKeys, keys);
  for (const bad of ['short', `${TOKEN},`, `,${TOKEN}`, `${TOKEN},,${TOKEN}`, `${TOKEN};${TOKEN}`, `${TOKEN},short`]) refuses({ API_KEYS: bad }, 'API_KEYS');
});

test('a refused secret is named but its value is not quoted', () => {
  for (const [variable, value] of [['MODEL_CONTROL_TOKEN', 'leaky-secret'], ['API_KEYS', `${TOKEN},leaky`]]) {
    assert.throws(
      () => loadConfig({ [variable]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${variable}=(hidden)`) && !e.message.includes(value),
    );
  }
  // Other variables still quote what was wrong.
  assert.throws(() => loadConfig({ RATE_LIMIT_MAX: 'lots' }), (e: unknown) => e instanceof ConfigError && e.message.includes('RATE_LIMIT_MAX="lots"'));
});

test('RATE_LIMIT_MAX (0 = off) and RATE_LIMIT_WINDOW_MS: integers in range', () => {
  const config = loadConfig({ RATE_LIMIT_MAX: '100', RATE_LIMIT_WINDOW_MS: '1000' });
  assert.equal(config.rateLimitMax, 100);
  assert.equal(config.rateLimitWindowMs, 1000);
  assert.equal(loadConfig({ RATE_LIMIT_MAX: '0' }).rateLimitMax, 0);
  for (const bad of ['-1', '1.5', 'lots', '1000000001']) refuses({ RATE_LIMIT_MAX: bad }, 'RATE_LIMIT_MAX');
  for (const bad of ['0', '99', '86400001', 'a minute']) refuses({ RATE_LIMIT_WINDOW_MS: bad }, 'RATE_LIMIT_WINDOW_MS');
});

test("the README's configuration table has a row for every variable", async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const rows = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
  const missing = Object.values(ENV_NAMES).filter((name) => !rows.has(name));
  assert.deepEqual(missing, []);
});
