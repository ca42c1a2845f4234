// Tests for the basic-auth viewer-request handler: node:test + node:assert,
// no network, no npm dependencies. Run: node --test lambda-edge/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  createHandler,
  handler as defaultHandler,
  parseBasicAuthorization,
  readConfig,
  DEFAULT_CACHE_TTL_MS,
  MAX_AUTHORIZATION_LENGTH,
} from './index.mjs';

const USER = 'admin';
const PASS = 'c0rrect-h0rse-battery-staple';
const REALM = 'IPFS Cluster';
const CHALLENGE = `Basic realm="${REALM}", charset="UTF-8"`;

function basic(user, pass) {
  return 'Basic ' + Buffer.from(`${user}:${pass}`, 'utf8').toString('base64');
}

function rawBasic(bytes) {
  return 'Basic ' + Buffer.from(bytes).toString('base64');
}

function event(authorization, extraHeaders = {}) {
  const headers = {
    host: [{ key: 'Host', value: 'd111111abcdef8.cloudfront.net' }],
    ...extraHeaders,
  };
  if (authorization !== undefined) {
    headers.authorization = [{ key: 'Authorization', value: authorization }];
  }
  return {
    Records: [
      {
        cf: {
          config: { eventType: 'viewer-request', distributionId: 'EDFDVBD6EXAMPLE' },
          request: {
            clientIp: '203.0.113.178',
            method: 'POST',
            uri: '/pins/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
            querystring: 'name=x',
            headers,
          },
        },
      },
    ],
  };
}

function counting(credentials = { username: USER, password: PASS }) {
  const loader = async () => {
    loader.calls += 1;
    return typeof credentials === 'function' ? credentials() : credentials;
  };
  loader.calls = 0;
  return loader;
}

function make(options = {}) {
  const logs = [];
  const loadCredentials = options.loadCredentials ?? counting();
  const h = createHandler({ log: (m) => logs.push(m), ...options, loadCredentials });
  return { handler: h, logs, loadCredentials };
}

function assertUnauthorized(res, realm = REALM) {
  assert.equal(res.status, '401');
  assert.equal(res.statusDescription, 'Unauthorized');
  assert.deepEqual(res.headers['www-authenticate'], [
    { key: 'WWW-Authenticate', value: `Basic realm="${realm}", charset="UTF-8"` },
  ]);
  assert.equal(res.headers['cache-control'][0].value, 'no-store');
  assert.equal(res.uri, undefined, 'a refusal is a generated response, not the request');
}

function assertFailClosed(res) {
  assert.equal(res.status, '503');
  assert.equal(res.headers['cache-control'][0].value, 'no-store');
  assert.equal(res.uri, undefined, 'fail closed: never the request');
}

describe('valid credentials', () => {
  test('pass the request through unchanged, Authorization included', async () => {
    const { handler } = make();
    const ev = event(basic(USER, PASS));
    const before = structuredClone(ev.Records[0].cf.request);
    const res = await handler(ev);
    assert.equal(res, ev.Records[0].cf.request, 'the very request object is returned');
    assert.deepEqual(res, before, 'and it is not modified');
    assert.equal(res.headers.authorization[0].value, basic(USER, PASS));
  });

  test('scheme name is case-insensitive', async () => {
    const { handler } = make();
    const ev = event(basic(USER, PASS).replace('Basic', 'bAsIc'));
    assert.equal(await handler(ev), ev.Records[0].cf.request);
  });

  test('a password with unusual characters (colons, quotes, backslash, spaces)', async () => {
    const password = ` p@ss:w0rd/+="\\%{}~\`'!#$&()*,;<>?[]^_| `;
    const { handler } = make({ loadCredentials: counting({ username: 'ops user', password }) });
    const ev = event(basic('ops user', password));
    assert.equal(await handler(ev), ev.Records[0].cf.request);
    // One character off is still refused.
    assertUnauthorized(await handler(event(basic('ops user', password.slice(0, -1)))));
  });
});

describe('refused with 401 and WWW-Authenticate', () => {
  const cases = [
    ['missing header', undefined],
    ['empty header', ''],
    ['other scheme', 'Bearer ' + Buffer.from(`${USER}:${PASS}`).toString('base64')],
    ['scheme only', 'Basic'],
    ['scheme and space only', 'Basic '],
    ['not base64', 'Basic !!!not-base64!!!'],
    ['base64 with wrong padding', 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64').replace(/=+$/, '') + '==='],
    ['base64 with bad length', 'Basic ' + Buffer.from(`${USER}:${PASS}x`).toString('base64').replace(/=+$/, '')],
    ['two tokens', basic(USER, PASS) + ' ' + basic(USER, PASS).slice(6)],
    ['no colon', 'Basic ' + Buffer.from(`${USER}${PASS}`).toString('base64')],
    ['empty username', basic('', PASS)],
    ['empty password', basic(USER, '')],
    ['wrong password', basic(USER, PASS + 'x')],
    ['wrong username', basic(USER + 'x', PASS)],
    ['password prefix', basic(USER, PASS.slice(0, -1))],
    ['swapped', basic(PASS, USER)],
    ['username only', rawBasic(`${USER}:`)],
    ['oversized header with valid credentials', basic(USER, PASS) + ' '.repeat(MAX_AUTHORIZATION_LENGTH)],
    ['oversized token', basic(USER, PASS + 'a'.repeat(MAX_AUTHORIZATION_LENGTH))],
    ['non-ASCII (UTF-8) password', basic(USER, 'pässwörd')],
    ['non-ASCII username', basic('ädmin', PASS)],
    ['latin-1 byte', rawBasic([...Buffer.from(`${USER}:`), 0xe9])],
    ['control character', basic(USER, PASS + '\n')],
    ['NUL byte', rawBasic([...Buffer.from(`${USER}:${PASS}`), 0x00])],
    ['DEL byte', basic(USER, PASS + '\x7f')],
  ];

  for (const [name, authorization] of cases) {
    test(name, async () => {
      const { handler } = make();
      assertUnauthorized(await handler(event(authorization)));
    });
  }

  test('non-ASCII credentials are refused even when they are the stored ones', async () => {
    const { handler } = make({ loadCredentials: counting({ username: USER, password: 'pässwörd' }) });
    assertUnauthorized(await handler(event(basic(USER, 'pässwörd'))));
  });

  test('Authorization sent twice', async () => {
    const { handler } = make();
    const ev = event(basic(USER, PASS));
    ev.Records[0].cf.request.headers.authorization.push({ key: 'Authorization', value: basic(USER, PASS) });
    assertUnauthorized(await handler(ev));
  });

  test('malformed event', async () => {
    const { handler } = make();
    assertUnauthorized(await handler({}));
    assertUnauthorized(await handler(undefined));
  });

  test('malformed headers never load the secret', async () => {
    const { handler, loadCredentials } = make();
    await handler(event(undefined));
    await handler(event('Basic !!'));
    assert.equal(loadCredentials.calls, 0);
  });

  test('realm from options', async () => {
    const { handler } = make({ realm: 'Private gateway' });
    assertUnauthorized(await handler(event(undefined)), 'Private gateway');
  });

  test('header value matches the exact challenge', async () => {
    const { handler } = make();
    const res = await handler(event(basic(USER, 'nope')));
    assert.equal(res.headers['www-authenticate'][0].value, CHALLENGE);
  });
});

describe('fail closed when credentials cannot be loaded', () => {
  test('loader rejects: 503, and nothing secret is logged', async () => {
    const { handler, logs } = make({
      loadCredentials: async () => {
        throw new Error('AccessDeniedException');
      },
    });
    const auth = basic(USER, PASS);
    assertFailClosed(await handler(event(auth)));
    assert.equal(logs.length, 1);
    for (const line of logs) {
      assert.ok(!line.includes(PASS), 'password logged');
      assert.ok(!line.includes(auth.slice(6)), 'Authorization header logged');
    }
  });

  test('loader throws synchronously', async () => {
    const { handler } = make({
      loadCredentials: () => {
        throw new Error('boom');
      },
    });
    assertFailClosed(await handler(event(basic(USER, PASS))));
  });

  for (const [name, value] of [
    ['null', null],
    ['a string', 'admin:password'],
    ['missing password', { username: USER }],
    ['empty password', { username: USER, password: '' }],
    ['non-string password', { username: USER, password: 12345 }],
  ]) {
    test(`loader returns ${name}`, async () => {
      const { handler } = make({ loadCredentials: counting(value) });
      assertFailClosed(await handler(event(basic(USER, PASS))));
    });
  }

  test('loader too slow: 503 after the load timeout', async () => {
    const { handler } = make({ loadCredentials: () => new Promise(() => {}), loadTimeoutMs: 20 });
    assertFailClosed(await handler(event(basic(USER, PASS))));
  });

  test('a failure is not cached: the next request retries', async () => {
    let fail = true;
    const loader = counting(() => {
      if (fail) throw new Error('throttled');
      return { username: USER, password: PASS };
    });
    const { handler } = make({ loadCredentials: loader });
    const ev = event(basic(USER, PASS));
    assertFailClosed(await handler(ev));
    fail = false;
    assert.equal(await handler(ev), ev.Records[0].cf.request);
    assert.equal(loader.calls, 2);
  });

  test('a failed reload after expiry fails closed (no stale credentials)', async () => {
    let t = 0;
    let fail = false;
    const loader = counting(() => {
      if (fail) throw new Error('unavailable');
      return { username: USER, password: PASS };
    });
    const { handler } = make({ loadCredentials: loader, now: () => t, cacheTtlMs: 1000 });
    const ev = event(basic(USER, PASS));
    assert.equal(await handler(ev), ev.Records[0].cf.request);
    fail = true;
    t = 1000;
    assertFailClosed(await handler(ev));
  });

  test('the default handler without a bundle config.json fails closed', async () => {
    const original = console.error;
    console.error = () => {};
    try {
      assertFailClosed(await defaultHandler(event(basic(USER, PASS))));
    } finally {
      console.error = original;
    }
  });
});

describe('credentials cache', () => {
  test('default TTL is five minutes', () => {
    assert.equal(DEFAULT_CACHE_TTL_MS, 300000);
  });

  test('reused within the TTL, reloaded after it expires', async () => {
    let t = 1_000_000;
    let current = { username: USER, password: PASS };
    const loader = counting(() => current);
    const { handler } = make({ loadCredentials: loader, now: () => t });

    const ok = event(basic(USER, PASS));
    assert.equal(await handler(ok), ok.Records[0].cf.request);
    assert.equal(loader.calls, 1);

    // Rotate the secret: the old password keeps working until the TTL ends.
    current = { username: USER, password: 'rotated-password' };
    t += DEFAULT_CACHE_TTL_MS - 1;
    assert.equal(await handler(ok), ok.Records[0].cf.request);
    assert.equal(loader.calls, 1);

    t += 1;
    assertUnauthorized(await handler(ok));
    assert.equal(loader.calls, 2);
    const rotated = event(basic(USER, 'rotated-password'));
    assert.equal(await handler(rotated), rotated.Records[0].cf.request);
    assert.equal(loader.calls, 2);
  });

  test('custom TTL', async () => {
    let t = 0;
    const loader = counting();
    const { handler } = make({ loadCredentials: loader, now: () => t, cacheTtlMs: 10 });
    const ev = event(basic(USER, PASS));
    await handler(ev);
    t = 9;
    await handler(ev);
    assert.equal(loader.calls, 1);
    t = 10;
    await handler(ev);
    assert.equal(loader.calls, 2);
  });

  test('concurrent cold starts load once (single flight)', async () => {
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    const loader = counting(async () => {
      await gate;
      return { username: USER, password: PASS };
    });
    const { handler } = make({ loadCredentials: loader });
    const events = Array.from({ length: 25 }, (_, i) => event(basic(USER, i % 5 === 0 ? 'wrong' : PASS)));
    const pending = events.map((ev) => handler(ev));
    release();
    const results = await Promise.all(pending);
    assert.equal(loader.calls, 1);
    results.forEach((res, i) => {
      if (i % 5 === 0) assertUnauthorized(res);
      else assert.equal(res, events[i].Records[0].cf.request);
    });
  });

  test('concurrent requests during a failing load all fail closed, and load once', async () => {
    const loader = counting(async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('down');
    });
    const { handler } = make({ loadCredentials: loader });
    const results = await Promise.all(Array.from({ length: 10 }, () => handler(event(basic(USER, PASS)))));
    assert.equal(loader.calls, 1);
    results.forEach(assertFailClosed);
  });
});

describe('parsing and configuration', () => {
  test('parseBasicAuthorization splits at the first colon', () => {
    assert.deepEqual(parseBasicAuthorization(basic('u', 'a:b:c')), { username: 'u', password: 'a:b:c' });
  });

  test('readConfig reads the bundle config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'basic-auth-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ secretName: 'ipfs-cluster/rest-api', secretRegion: 'us-east-1', realm: 'R' }));
      assert.deepEqual(readConfig(pathToFileURL(file)), {
        secretName: 'ipfs-cluster/rest-api',
        secretRegion: 'us-east-1',
        realm: 'R',
      });
      writeFileSync(file, JSON.stringify({ secretName: 'c', tokenSecretName: 'c-psa-token-key', secretRegion: 'us-east-1', realm: 'R' }));
      assert.equal(readConfig(pathToFileURL(file)).tokenSecretName, 'c-psa-token-key');
      writeFileSync(file, JSON.stringify({ secretName: 'c', tokenSecretName: '' }));
      assert.throws(() => readConfig(pathToFileURL(file)), /tokenSecretName/);
      writeFileSync(file, JSON.stringify({ secretRegion: 'us-east-1' }));
      assert.throws(() => readConfig(pathToFileURL(file)), /secretName/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('createHandler validates its options', () => {
    assert.throws(() => createHandler({}), /loadCredentials/);
    assert.throws(() => createHandler({ loadCredentials: counting(), realm: 'a"b' }), /realm/);
  });
});
