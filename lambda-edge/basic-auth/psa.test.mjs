// Tests for the Pinning Service API at the edge (psa.mjs through the real
// viewer-request handler): tokens (issue, verify, every way a token is
// refused, revocation, key rotation) and the request checks of every PSA
// route. node:test, no network.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

import { createHandler } from './index.mjs';
import { PSA_LIMITS, issueToken, parseTokenSecret, validatePsaRequest, verifyToken } from './psa.mjs';

const USER = 'admin';
const PASS = 'c0rrect-h0rse-battery-staple';
const KEY = 'k'.repeat(20) + 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab';
const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
const CID_V0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn';
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
const ORIGIN = `/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`;
const T0 = 1_800_000_000; // seconds

const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function request({ method = 'GET', uri = '/psa/pins', querystring = '', authorization, body, truncated = false, headers = {} } = {}) {
  const h = { host: [{ key: 'Host', value: 'd111111abcdef8.cloudfront.net' }], ...headers };
  if (authorization !== undefined) h.authorization = [{ key: 'Authorization', value: authorization }];
  const r = { clientIp: '203.0.113.178', method, uri, querystring, headers: h };
  r.body = {
    inputTruncated: truncated,
    action: 'read-only',
    encoding: 'base64',
    data: body === undefined ? '' : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
  };
  return r;
}

const event = (r) => ({ Records: [{ cf: { config: { eventType: 'viewer-request' }, request: r } }] });

// A handler with a settable clock and token secret (as Secrets Manager
// would hold it), and counters of the loads.
function edge({ secret = { key: KEY, revoked: {} }, ttlMs = 60_000 } = {}) {
  const state = { nowMs: T0 * 1000, secret, tokenLoads: 0, logs: [] };
  state.handler = createHandler({
    loadCredentials: async () => ({ username: USER, password: PASS }),
    loadTokenSecret: async () => {
      state.tokenLoads += 1;
      return typeof state.secret === 'function' ? state.secret() : state.secret;
    },
    cacheTtlMs: ttlMs,
    now: () => state.nowMs,
    log: (m) => state.logs.push(m),
  });
  state.call = (r) => state.handler(event(r));
  state.token = async (body, authorization = basic(USER, PASS)) => {
    const res = await state.call(request({ method: 'POST', uri: '/psa/token', authorization, body }));
    assert.equal(res.status, '200', res.body);
    return JSON.parse(res.body);
  };
  return state;
}

function failure(res, status, reasonPattern) {
  assert.equal(res.status, String(status), res.body);
  assert.equal(res.headers['cache-control'][0].value, 'no-store');
  assert.equal(res.headers['content-type'][0].value, 'application/json');
  const body = JSON.parse(res.body);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error.reason, 'string');
  assert.equal(typeof body.error.details, 'string');
  if (reasonPattern) assert.match(body.error.details, reasonPattern);
  return body.error;
}

function refusedToken(res, pattern) {
  const e = failure(res, 401, pattern);
  assert.equal(e.reason, 'UNAUTHORIZED');
  assert.match(res.headers['www-authenticate'][0].value, /^Bearer realm="IPFS Pinning Service", error="invalid_token"/);
  return e;
}

function forwarded(res) {
  assert.equal(res.status, undefined, res.body);
  assert.ok(res.uri.startsWith('/psa/'));
  return res;
}

// A token signed by hand: any header, any claims, any key.
function forge(header, claims, key = KEY) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
const goodClaims = (over = {}) => ({ iss: 'ipfs-cluster-aws', sub: 'ci', jti: 'AAAAAAAAAAAAAAAAAAAAAA', iat: T0, nbf: T0, exp: T0 + 3600, ...over });

describe('POST /psa/token', () => {
  test('the REST API credentials get a token that then opens every route', async () => {
    const e = edge();
    const issued = await e.token({ name: 'ci-deploy', expires_in: 3600 });
    assert.equal(issued.name, 'ci-deploy');
    assert.match(issued.id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(issued.expires_at, new Date((T0 + 3600) * 1000).toISOString());
    const [h, p] = issued.token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url')), { iss: 'ipfs-cluster-aws', sub: 'ci-deploy', jti: issued.id, iat: T0, nbf: T0, exp: T0 + 3600 });
    const out = forwarded(await e.call(request({ authorization: `Bearer ${issued.token}`, querystring: 'limit=5' })));
    // The origin gets the cluster's credentials and the client's name, never the token.
    assert.deepEqual(out.headers.authorization, [{ key: 'Authorization', value: basic(USER, PASS) }]);
    assert.deepEqual(out.headers['x-psa-client'], [{ key: 'X-Psa-Client', value: 'ci-deploy' }]);
    assert.equal(out.querystring, 'limit=5');
    assert.ok(e.logs.some((l) => l.includes(issued.id)), 'issuing is logged with the token ID');
    assert.ok(!e.logs.some((l) => l.includes(issued.token.split('.')[2])), 'the token itself is never logged');
  });

  test('defaults: a 30-day token named psa-client; an empty body is fine', async () => {
    const e = edge();
    const issued = await e.token(undefined);
    assert.equal(issued.name, 'psa-client');
    assert.equal(issued.expires_at, new Date((T0 + PSA_LIMITS.defaultExpiresIn) * 1000).toISOString());
  });

  test('wrong, missing or malformed Basic credentials get 401 with a Basic challenge, and no token', async () => {
    const e = edge();
    for (const authorization of [undefined, basic(USER, 'wrong'), basic('root', PASS), 'Basic !!!', 'Bearer abc']) {
      const res = await e.call(request({ method: 'POST', uri: '/psa/token', authorization, body: {} }));
      failure(res, 401, /REST API credentials/);
      assert.match(res.headers['www-authenticate'][0].value, /^Basic realm=/);
    }
  });

  test('bad token requests get 400 naming the field; other methods 405', async () => {
    const e = edge();
    const bad = async (body, pattern) => failure(await e.call(request({ method: 'POST', uri: '/psa/token', authorization: basic(USER, PASS), body })), 400, pattern);
    await bad({ expires_in: 59 }, /expires_in/);
    await bad({ expires_in: PSA_LIMITS.maxExpiresIn + 1 }, /expires_in/);
    await bad({ expires_in: '3600' }, /expires_in/);
    await bad({ expires_in: 3600.5 }, /expires_in/);
    await bad({ name: '' }, /name/);
    await bad({ name: 'a'.repeat(65) }, /name/);
    await bad({ name: 'new\nline' }, /name/);
    await bad({ admin: true }, /"admin" is unknown/);
    await bad('[1]', /not a JSON object/);
    await bad('{', /not UTF-8 JSON/);
    const q = await e.call(request({ method: 'POST', uri: '/psa/token', querystring: 'name=x', authorization: basic(USER, PASS) }));
    failure(q, 400, /"name" is not a parameter/);
    const get = await e.call(request({ method: 'GET', uri: '/psa/token', authorization: basic(USER, PASS) }));
    failure(get, 405);
    assert.equal(get.headers.allow[0].value, 'POST');
  });

  test('without the token key secret: 503, fail closed', async () => {
    const e = edge({ secret: () => { throw new Error('AccessDenied'); } });
    const res = await e.call(request({ method: 'POST', uri: '/psa/token', authorization: basic(USER, PASS) }));
    failure(res, 503);
    assert.ok(e.logs.some((l) => l.includes('AccessDenied')));
    const weak = edge({ secret: { key: 'short' } });
    failure(await weak.call(request({ method: 'POST', uri: '/psa/token', authorization: basic(USER, PASS) })), 503);
    const bearer = await e.call(request({ authorization: `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, goodClaims())}` }));
    failure(bearer, 503);
  });
});

describe('Bearer tokens', () => {
  test('no token: 401 with a bare Bearer challenge; not Bearer: invalid_request', async () => {
    const e = edge();
    const none = await e.call(request());
    failure(none, 401, /access token is required/);
    assert.equal(none.headers['www-authenticate'][0].value, 'Bearer realm="IPFS Pinning Service"');
    const basicOnPins = await e.call(request({ authorization: basic(USER, PASS) }));
    failure(basicOnPins, 401);
    assert.match(basicOnPins.headers['www-authenticate'][0].value, /error="invalid_request"/);
    failure(await e.call(request({ authorization: `Bearer ${'a'.repeat(1100)}` })), 401, /not "Bearer <token>"/);
    const twice = request({ authorization: 'Bearer a.b.c' });
    twice.headers.authorization.push({ key: 'Authorization', value: 'Bearer a.b.c' });
    failure(await e.call(twice), 401);
  });

  test('malformed tokens and foreign algorithms are refused without reading the secret', async () => {
    const e = edge();
    for (const t of ['purposefullyInvalid', 'a.b', `${b64url({ alg: 'none' })}.${b64url(goodClaims())}.`, `${b64url({ alg: 'RS256' })}.${b64url(goodClaims())}.sig`]) {
      refusedToken(await e.call(request({ authorization: `Bearer ${t}` })));
    }
    assert.equal(e.tokenLoads, 0);
  });

  test('a hand-made token with the right key and claims passes (the format is plain HS256 JWT)', async () => {
    const e = edge();
    forwarded(await e.call(request({ authorization: `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, goodClaims())}` })));
  });

  test('alg none, other algorithms and odd headers are refused', async () => {
    const e = edge();
    const claims = goodClaims();
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
    refusedToken(await e.call(request({ authorization: `Bearer ${unsigned}` })), /HS256|JSON Web Token/);
    for (const header of [{ alg: 'none' }, { alg: 'HS384' }, { alg: 'HS512' }, { alg: 'RS256' }, { alg: 'hs256' }, { typ: 'JWT' }, { alg: 'HS256', typ: 'JWE' }, { alg: 'HS256', crit: ['exp'] }]) {
      refusedToken(await e.call(request({ authorization: `Bearer ${forge(header, claims)}` })), /HS256/);
    }
    refusedToken(await e.call(request({ authorization: `Bearer ${b64url('x')}.${b64url(claims)}.sig` })), /header/);
  });

  test('a tampered token is refused: payload, signature, key', async () => {
    const e = edge();
    const { token } = await e.token({ name: 'ci' });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    const longer = `${h}.${b64url({ ...claims, exp: claims.exp + 10 ** 6 })}.${s}`;
    refusedToken(await e.call(request({ authorization: `Bearer ${longer}` })), /signature/);
    const renamed = `${h}.${b64url({ ...claims, sub: 'admin' })}.${s}`;
    refusedToken(await e.call(request({ authorization: `Bearer ${renamed}` })), /signature/);
    const flipped = s[0] === 'A' ? `B${s.slice(1)}` : `A${s.slice(1)}`;
    refusedToken(await e.call(request({ authorization: `Bearer ${h}.${p}.${flipped}` })), /signature/);
    refusedToken(await e.call(request({ authorization: `Bearer ${h}.${p}.${s.slice(0, 20)}` })), /signature/);
    refusedToken(await e.call(request({ authorization: `Bearer ${h}.${p}.${s}A` })), /signature/);
    refusedToken(await e.call(request({ authorization: `Bearer ${forge({ alg: 'HS256' }, goodClaims(), 'x'.repeat(64))}` })), /signature/);
    refusedToken(await e.call(request({ authorization: `Bearer ${h}.${p}` })), /three/);
  });

  test('expired, not yet valid and foreign claims are refused', async () => {
    const e = edge();
    const { token } = await e.token({ expires_in: 60 });
    forwarded(await e.call(request({ authorization: `Bearer ${token}` })));
    e.nowMs += 60_000;
    refusedToken(await e.call(request({ authorization: `Bearer ${token}` })), /expired/);
    const h = { alg: 'HS256', typ: 'JWT' };
    refusedToken(await e.call(request({ authorization: `Bearer ${forge(h, goodClaims({ nbf: T0 + 3600, exp: T0 + 7200 }))}` })), /not valid yet/);
    e.nowMs = T0 * 1000;
    forwarded(await e.call(request({ authorization: `Bearer ${forge(h, goodClaims({ nbf: T0 + PSA_LIMITS.clockSkew }))}` })));
    for (const over of [{ iss: 'someone-else' }, { exp: undefined }, { exp: 'never' }, { sub: 'a b' }, { jti: 'short' }, { exp: T0 + 0.5 }]) {
      refusedToken(await e.call(request({ authorization: `Bearer ${forge(h, goodClaims(over))}` })), /claims/);
    }
  });

  test('a client cannot set X-Psa-Client itself', async () => {
    const e = edge();
    const { token } = await e.token({ name: 'alice' });
    const out = forwarded(await e.call(request({ authorization: `Bearer ${token}`, headers: { 'x-psa-client': [{ key: 'X-Psa-Client', value: 'admin' }] } })));
    assert.deepEqual(out.headers['x-psa-client'], [{ key: 'X-Psa-Client', value: 'alice' }]);
  });

  test('verifyToken and issueToken agree; parseTokenSecret refuses bad secrets', () => {
    const secret = parseTokenSecret({ key: KEY, revoked: {} });
    const { token, jti } = issueToken(secret, { sub: 'x', expiresIn: 100 }, T0);
    assert.equal(verifyToken(token, secret, T0 + 99).jti, jti);
    assert.throws(() => verifyToken(token, secret, T0 + 100), /expired/);
    for (const bad of [null, {}, { key: 12 }, { key: 'x'.repeat(31) }, { key: KEY, revoked: [] }, { key: KEY, revoked: null }]) {
      assert.throws(() => parseTokenSecret(bad), /token key secret/);
    }
  });
});

describe('revocation and rotation (the runbook, at the handler)', () => {
  test('revoking one token refuses it once the cache expires; the others keep working', async () => {
    const e = edge({ ttlMs: 60_000 });
    const a = await e.token({ name: 'a' });
    const b = await e.token({ name: 'b' });
    e.secret = { key: KEY, revoked: { [a.id]: T0 + PSA_LIMITS.defaultExpiresIn } };
    // Still cached: the revocation is not seen yet (the documented delay).
    forwarded(await e.call(request({ authorization: `Bearer ${a.token}` })));
    e.nowMs += 60_000;
    refusedToken(await e.call(request({ authorization: `Bearer ${a.token}` })), /revoked/);
    forwarded(await e.call(request({ authorization: `Bearer ${b.token}` })));
  });

  test('rotating the key refuses every earlier token; new tokens work', async () => {
    const e = edge({ ttlMs: 1000 });
    const a = await e.token({ name: 'a' });
    e.secret = { key: 'N'.repeat(64), revoked: {} };
    e.nowMs += 1000;
    refusedToken(await e.call(request({ authorization: `Bearer ${a.token}` })), /signature/);
    const fresh = await e.token({ name: 'a' });
    forwarded(await e.call(request({ authorization: `Bearer ${fresh.token}` })));
  });

  test('a token signed with a newer key than the cached one passes once the cached key is keyRefreshMs old; forgeries cause no more reads', async () => {
    const e = edge({ ttlMs: 300_000 });
    await e.token({}); // the key is cached now
    const newer = { key: 'N'.repeat(64), revoked: {} };
    // Issued at another edge location, which already read the new key.
    const { token } = issueToken(parseTokenSecret(newer), { sub: 'x', expiresIn: 3600 }, T0);
    e.secret = newer;
    e.nowMs += PSA_LIMITS.keyRefreshMs - 1000;
    refusedToken(await e.call(request({ authorization: `Bearer ${token}` })), /signature/);
    assert.equal(e.tokenLoads, 1, 'a key read less than keyRefreshMs ago is not read again');
    e.nowMs += 1000;
    forwarded(await e.call(request({ authorization: `Bearer ${token}` })));
    assert.equal(e.tokenLoads, 2);
    for (let i = 0; i < 5; i++) {
      refusedToken(await e.call(request({ authorization: `Bearer ${forge({ alg: 'HS256' }, goodClaims(), 'f'.repeat(64))}` })), /signature/);
    }
    assert.equal(e.tokenLoads, 2, 'forged tokens within keyRefreshMs read nothing');
    e.nowMs += PSA_LIMITS.keyRefreshMs;
    refusedToken(await e.call(request({ authorization: `Bearer ${forge({ alg: 'HS256' }, goodClaims(), 'f'.repeat(64))}` })), /signature/);
    assert.equal(e.tokenLoads, 3, 'at most one read per keyRefreshMs');
  });

  test('the secret is read once per cache period, however many requests', async () => {
    const e = edge({ ttlMs: 60_000 });
    const { token } = await e.token({});
    for (let i = 0; i < 20; i++) forwarded(await e.call(request({ authorization: `Bearer ${token}` })));
    assert.equal(e.tokenLoads, 1);
  });
});

describe('request checks of the PSA routes', () => {
  const ok = (r) => assert.equal(validatePsaRequest(r), null, JSON.stringify(validatePsaRequest(r)));
  const refused = (r, status, pattern) => failure(validatePsaRequest(r), status, pattern);
  const pin = (over = {}) => ({ cid: CID, name: 'photo.jpg', origins: [ORIGIN], meta: { app: 'x' }, ...over });

  test('good requests pass', () => {
    ok(request({ querystring: '' }));
    ok(request({ querystring: `cid=${CID},${CID_V0}&name=x&match=ipartial&status=queued,pinning,pinned,failed&before=2030-01-01T00:00:00Z&after=2020-01-01T00:00:00.5%2B02:00&limit=1000&meta=${encodeURIComponent('{"app":"x"}')}` }));
    ok(request({ method: 'POST', body: pin() }));
    ok(request({ method: 'POST', body: { cid: CID_V0 } }));
    ok(request({ uri: '/psa/pins/01J9ZQ4V5Y8X7W6T5S4R3Q2P1N' }));
    ok(request({ method: 'DELETE', uri: '/psa/pins/abc-DEF_123' }));
    ok(request({ method: 'POST', uri: '/psa/pins/abc', body: pin() }));
  });

  test('CIDs', () => {
    refused(request({ method: 'POST', body: pin({ cid: 'not-a-cid' }) }), 400, /cid/);
    refused(request({ method: 'POST', body: pin({ cid: 42 }) }), 400, /cid/);
    refused(request({ method: 'POST', body: { name: 'x' } }), 400, /cid/);
    refused(request({ querystring: 'cid=Qmnope' }), 400, /cid/);
    refused(request({ querystring: `cid=${Array(PSA_LIMITS.cids + 1).fill(CID).join(',')}` }), 400, /more than 10/);
  });

  test('names, meta, origins', () => {
    ok(request({ method: 'POST', body: pin({ name: 'é'.repeat(127) }) }));
    refused(request({ method: 'POST', body: pin({ name: 'a'.repeat(256) }) }), 400, /name: longer than 255/);
    refused(request({ method: 'POST', body: pin({ name: 'a\u0000b' }) }), 400, /control/);
    refused(request({ method: 'POST', body: pin({ name: 7 }) }), 400, /name: must be a string/);
    refused(request({ querystring: `name=${'a'.repeat(256)}` }), 400, /name/);
    refused(request({ method: 'POST', body: pin({ meta: [] }) }), 400, /meta/);
    refused(request({ method: 'POST', body: pin({ meta: { k: 1 } }) }), 400, /meta.k: must be a string/);
    refused(request({ method: 'POST', body: pin({ meta: { 'bad key': 'v' } }) }), 400, /meta/);
    refused(request({ method: 'POST', body: pin({ meta: { k: 'v'.repeat(PSA_LIMITS.metaValueBytes + 1) } }) }), 400, /longer than 512/);
    const many = Object.fromEntries(Array.from({ length: PSA_LIMITS.metaEntries + 1 }, (_, i) => [`k${i}`, 'v']));
    refused(request({ method: 'POST', body: pin({ meta: many }) }), 400, /more than 16/);
    refused(request({ querystring: 'meta=notjson' }), 400, /meta/);
    refused(request({ querystring: `meta=${encodeURIComponent('{"a":1}')}` }), 400, /meta/);
    refused(request({ method: 'POST', body: pin({ origins: ['/ip4/1.2.3.4/tcp/4001'] }) }), 400, /origins/);
    refused(request({ method: 'POST', body: pin({ origins: 'x' }) }), 400, /origins/);
    refused(request({ method: 'POST', body: pin({ origins: Array(PSA_LIMITS.origins + 1).fill(ORIGIN) }) }), 400, /at most 20/);
    refused(request({ method: 'POST', body: pin({ origins: [ORIGIN, ORIGIN] }) }), 400, /twice/);
    refused(request({ method: 'POST', body: pin({ extra: 1 }) }), 400, /"extra" is unknown/);
  });

  test('limit, status, match, times, unknown and repeated parameters', () => {
    for (const l of ['0', '1001', '-1', '1.5', 'ten', '01', '']) refused(request({ querystring: `limit=${l}` }), 400, /limit/);
    ok(request({ querystring: 'limit=1' }));
    refused(request({ querystring: 'status=done' }), 400, /status/);
    refused(request({ querystring: 'match=fuzzy' }), 400, /match/);
    refused(request({ querystring: 'before=yesterday' }), 400, /before/);
    refused(request({ querystring: 'offset=10' }), 400, /"offset" is not a parameter/);
    refused(request({ querystring: 'limit=1&limit=2' }), 400, /more than once/);
    refused(request({ querystring: 'name=%E0%A4%A' }), 400, /percent-encoded/);
    refused(request({ method: 'POST', querystring: 'name=x', body: pin() }), 400, /not a parameter/);
    refused(request({ uri: '/psa/pins/abc', querystring: 'x=1' }), 400, /not a parameter/);
  });

  test('bodies: required, JSON, bounded; none on GET and DELETE', () => {
    refused(request({ method: 'POST' }), 400, /body is required/);
    refused(request({ method: 'POST', body: 'nope' }), 400, /JSON/);
    refused(request({ method: 'POST', body: pin(), truncated: true }), 413, /larger than/);
    refused(request({ method: 'DELETE', uri: '/psa/pins/abc', body: pin() }), 400, /no body/);
    refused(request({ method: 'GET', body: pin() }), 400, /no body/);
  });

  test('routes, methods and paths', () => {
    refused(request({ uri: '/psa/nope' }), 404);
    refused(request({ uri: '/psa' }), 404);
    refused(request({ uri: '/psa/pins/' }), 404);
    refused(request({ uri: '/psa/pins/a/b' }), 404);
    refused(request({ uri: '/psa/health' }), 404);
    refused(request({ uri: '/psa/../pins' }), 404);
    refused(request({ uri: '/psa/./pins' }), 404);
    refused(request({ uri: '/psa//pins' }), 404);
    refused(request({ uri: '/psa/%70ins' }), 404);
    refused(request({ uri: `/psa/pins/${'a'.repeat(257)}` }), 400, /requestid/);
    ok(request({ uri: `/psa/pins/${'a'.repeat(256)}` })); // the layer's IDs hold the CID
    refused(request({ uri: '/psa/pins/a.b' }), 400, /requestid/);
    const put = validatePsaRequest(request({ method: 'PUT' }));
    failure(put, 405);
    assert.equal(put.headers.allow[0].value, 'GET, POST');
    failure(validatePsaRequest(request({ method: 'PATCH', uri: '/psa/pins/abc' })), 405);
  });

  test('checks come after the token: an anonymous bad request gets 401, not 400', async () => {
    const e = edge();
    failure(await e.call(request({ querystring: 'limit=0' })), 401);
    const { token } = await e.token({});
    failure(await e.call(request({ querystring: 'limit=0', authorization: `Bearer ${token}` })), 400, /limit/);
  });

  test('the REST API paths are untouched by the PSA (Basic there, Bearer refused)', async () => {
    const e = edge();
    const { token } = await e.token({});
    const r = request({ uri: '/id', authorization: `Bearer ${token}` });
    assert.equal((await e.call(r)).status, '401');
    const ok2 = await e.call(request({ uri: '/id', authorization: basic(USER, PASS) }));
    assert.equal(ok2.uri, '/id');
  });
});
