// The IPFS Pinning Service API (PSA v1.0.0) at the edge: bearer tokens and
// the request checks of every PSA route (issue 17). index.mjs calls
// handlePsa for every request under PSA_PREFIX; the same viewer-request
// function, associated with the /psa/* behaviour with includeBody, reads
// the JSON bodies there.
//
// Tokens are HS256 JSON Web Tokens the edge signs itself with a key held in
// the token key secret ({"key": "...", "revoked": {"<jti>": <exp>, ...}}),
// replicated to us-east-1 like the REST API credentials and cached as long:
//
//   - POST /psa/token with the REST API's Basic credentials issues one;
//   - every other /psa route needs "Authorization: Bearer <token>": HS256
//     only (alg "none" and every other algorithm refused), the signature
//     compared in constant time, iss, nbf, exp and the revoked list checked;
//   - a valid token is replaced, before the origin, by Basic credentials of
//     the REST API (the PSA layer answers 401 without them) and
//     X-Psa-Client: <the token's sub>; a client's own X-Psa-Client never
//     passes.
//
// Revoking one token adds its jti to "revoked" (until its exp, after which
// it is refused anyway); revoking all replaces "key". Either takes effect
// when the edge's cache of the secret expires (DEFAULT_CACHE_TTL_MS at most,
// per edge location and container).
//
// The function cannot tell the distributions apart (it is built before
// them), so a private gateway treats /psa/* the same way: a token instead of
// Basic credentials there reaches only kubo's gateway, which serves nothing
// under /psa.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { MAX_AUTHORIZATION_LENGTH, isOrigin, isRFC3339, parseBasicAuthorization, parseCid } from './index.mjs';

/** The base path of the PSA: the endpoint clients are given is https://<api>/psa. */
export const PSA_PREFIX = '/psa';

/** Issuer of the edge's tokens. */
export const TOKEN_ISSUER = 'ipfs-cluster-aws';

/**
 * Bounds of the PSA at the edge. Token lifetimes: a token always expires
 * (a client that holds one for long gets a new one from its operator).
 */
export const PSA_LIMITS = Object.freeze({
  /** Default and largest token lifetime, in seconds. */
  defaultExpiresIn: 30 * 24 * 3600,
  maxExpiresIn: 366 * 24 * 3600,
  /** Smallest token lifetime. */
  minExpiresIn: 60,
  /** Token names (the sub claim, forwarded as X-Psa-Client). */
  tokenName: /^[A-Za-z0-9._@-]{1,64}$/,
  /** Clock skew tolerated on iat and nbf, in seconds. */
  clockSkew: 60,
  /**
   * A token whose signature does not match makes the edge read the key
   * again if it read it at least this long ago (milliseconds): a token
   * issued under a new key at another edge location is accepted within
   * this time, not only when the cache expires; forged tokens cause at
   * most one read per this time per function instance.
   */
  keyRefreshMs: 30 * 1000,
  /** Bytes CloudFront shows a viewer-request function of a body (it truncates beyond). */
  bodyBytes: 40 * 1024,
  /** Pin name, in UTF-8 bytes (the spec's maxLength 255 characters is looser). */
  nameBytes: 255,
  /** origins of one pin (the spec's maxItems). */
  origins: 20,
  /** meta: entries, key bytes, value bytes, and the whole object as JSON. */
  metaEntries: 16,
  metaKeyBytes: 64,
  metaValueBytes: 512,
  metaJSONBytes: 8 * 1024,
  /** CIDs in GET /pins?cid= (the spec's maxItems). */
  cids: 10,
  /** GET /pins?limit= (the spec's range). */
  limitMin: 1,
  limitMax: 1000,
  /** A request ID: URL-safe characters of the PSA layer's IDs. */
  // The layer's IDs are 25 characters and the CID: a CIDv1 of a sha2-512
  // hash in base32 is about 110.
  requestId: /^[A-Za-z0-9_-]{1,256}$/,
});

const REALM = 'IPFS Pinning Service';
const STATUS_TEXT = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Content Too Large', 503: 'Service Unavailable',
};

/** A PSA Failure response: {"error": {"reason", "details"}}, never cached. */
export function psaFailure(status, reason, details, headers = {}) {
  return {
    status: String(status),
    statusDescription: STATUS_TEXT[status],
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'application/json' }],
      ...headers,
    },
    body: JSON.stringify({ error: { reason, details } }),
  };
}

class PsaRefusal extends Error {
  constructor(status, reason, details, headers) {
    super(details);
    this.response = psaFailure(status, reason, details, headers);
  }
}

const badRequest = (details) => new PsaRefusal(400, 'BAD_REQUEST', details);

// RFC 6750 §3: no error code when no token came, invalid_token otherwise.
function bearerChallenge(error, description) {
  const value = error
    ? `Bearer realm="${REALM}", error="${error}", error_description="${description}"`
    : `Bearer realm="${REALM}"`;
  return { 'www-authenticate': [{ key: 'WWW-Authenticate', value }] };
}

const invalidToken = (description) =>
  new PsaRefusal(401, 'UNAUTHORIZED', description, bearerChallenge('invalid_token', description));

const SIGNATURE_MISMATCH = 'the token signature does not match (a forged token, or one signed with a rotated key)';

/** True when uri is under PSA_PREFIX (the /psa/* behaviour's paths). */
export function isPsaUri(uri) {
  return typeof uri === 'string' && (uri === PSA_PREFIX || uri.startsWith(`${PSA_PREFIX}/`));
}

// --- tokens ----------------------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]*$/;
const JTI = /^[A-Za-z0-9_-]{22}$/;
const MIN_KEY_CHARS = 32;

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function fromB64url(s) {
  // Canonical only: no padding, no other alphabet, no stray bits.
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  const bytes = Buffer.from(s, 'base64url');
  return b64url(bytes) === s ? bytes : null;
}

function jsonObject(bytes) {
  try {
    const v = JSON.parse(bytes.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Checks the token key secret's shape: {"key": string of at least 32
 * characters, "revoked": {jti: exp seconds}} ("revoked" optional).
 */
export function parseTokenSecret(value) {
  if (value === null || typeof value !== 'object' || typeof value.key !== 'string' || value.key.length < MIN_KEY_CHARS) {
    throw new Error(`token key secret is not {"key": <at least ${MIN_KEY_CHARS} characters>, "revoked": {...}}`);
  }
  const revoked = Object.hasOwn(value, 'revoked') ? value.revoked : {};
  if (revoked === null || typeof revoked !== 'object' || Array.isArray(revoked)) {
    throw new Error('token key secret: "revoked" is not an object of token IDs');
  }
  return Object.freeze({ key: Buffer.from(value.key, 'utf8'), revoked: new Set(Object.keys(revoked)) });
}

function sign(key, input) {
  return createHmac('sha256', key).update(input, 'ascii').digest();
}

/**
 * Signs a token. claims: {sub, expiresIn} (seconds); nowSec: the time.
 * Returns {token, jti, exp}.
 */
export function issueToken(secret, { sub, expiresIn }, nowSec) {
  const jti = b64url(randomBytes(16));
  const exp = nowSec + expiresIn;
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ iss: TOKEN_ISSUER, sub, jti, iat: nowSec, nbf: nowSec, exp }));
  const input = `${header}.${payload}`;
  return { token: `${input}.${b64url(sign(secret.key, input))}`, jti, exp };
}

// The parts of a token, checked for shape and algorithm: what can be
// refused before the secret is read (so garbage never causes a load).
function parseToken(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) {
    throw invalidToken('the token is not a JSON Web Token (three base64url parts)');
  }
  const [h, p, s] = parts;
  const headerBytes = fromB64url(h);
  const header = headerBytes && jsonObject(headerBytes);
  if (!header) {
    throw invalidToken('the token header is not base64url JSON');
  }
  // Only HS256: "none", RS256 (a public key used as an HMAC secret) and
  // every other algorithm are refused before any signature is looked at.
  if (header.alg !== 'HS256' || (header.typ !== undefined && header.typ !== 'JWT') || header.crit !== undefined) {
    throw invalidToken('the token is not signed with HS256');
  }
  return { h, p, s };
}

/**
 * Verifies a token against the secret at nowSec. Returns its claims, or
 * throws a 401 refusal saying why (the reason is the client's to know:
 * none of it is secret).
 */
export function verifyToken(token, secret, nowSec) {
  return checkToken(parseToken(token), secret, nowSec);
}

function checkToken({ h, p, s }, secret, nowSec) {
  const signature = fromB64url(s);
  const expected = sign(secret.key, `${h}.${p}`);
  // Constant time over the 32 bytes; a wrong length fails without a
  // comparison of different lengths (timingSafeEqual would throw).
  if (!signature || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw invalidToken(SIGNATURE_MISMATCH);
  }
  const payloadBytes = fromB64url(p);
  const claims = payloadBytes && jsonObject(payloadBytes);
  if (!claims || claims.iss !== TOKEN_ISSUER || typeof claims.sub !== 'string' || !PSA_LIMITS.tokenName.test(claims.sub) ||
      typeof claims.jti !== 'string' || !JTI.test(claims.jti) || !Number.isSafeInteger(claims.exp) ||
      !Number.isSafeInteger(claims.nbf ?? 0) || !Number.isSafeInteger(claims.iat ?? 0)) {
    throw invalidToken('the token claims are not those of this service');
  }
  if (nowSec >= claims.exp) {
    throw invalidToken('the token has expired');
  }
  if ((claims.nbf ?? 0) > nowSec + PSA_LIMITS.clockSkew || (claims.iat ?? 0) > nowSec + PSA_LIMITS.clockSkew) {
    throw invalidToken('the token is not valid yet');
  }
  if (secret.revoked.has(claims.jti)) {
    throw invalidToken('the token has been revoked');
  }
  return claims;
}

/** Reads "Bearer <token>" from one Authorization header value. */
export function parseBearer(value) {
  if (typeof value !== 'string' || value.length > MAX_AUTHORIZATION_LENGTH) return null;
  const m = /^Bearer +([A-Za-z0-9_.-]+) *$/i.exec(value);
  return m ? m[1] : null;
}

// --- request bodies and parameters -------------------------------------------

// The JSON body of a viewer request (the behaviour includes bodies).
function jsonBody(request, { optional = false } = {}) {
  const body = request.body;
  if (body && body.inputTruncated) {
    throw new PsaRefusal(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${PSA_LIMITS.bodyBytes} bytes`);
  }
  const raw = body && typeof body.data === 'string' ? Buffer.from(body.data, body.encoding === 'text' ? 'utf8' : 'base64') : Buffer.alloc(0);
  if (raw.length === 0) {
    if (optional) return {};
    throw badRequest('a JSON object body is required');
  }
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw badRequest('the body is not UTF-8 JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('the body is not a JSON object');
  }
  return value;
}

function noBody(request) {
  const body = request.body;
  if (body && (body.inputTruncated || (typeof body.data === 'string' && body.data.length > 0))) {
    throw badRequest('this route takes no body');
  }
}

function onlyKeys(object, allowed, what) {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw badRequest(`${what}: ${JSON.stringify(key.slice(0, 64))} is unknown; allowed: ${allowed.join(', ')}`);
    }
  }
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function text(name, value, maxBytes) {
  if (typeof value !== 'string') {
    throw badRequest(`${name}: must be a string`);
  }
  if (Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw badRequest(`${name}: longer than ${maxBytes} bytes`);
  }
  if (CONTROL.test(value)) {
    throw badRequest(`${name}: control characters are not allowed`);
  }
}

const META_KEY = /^[A-Za-z0-9._-]+$/;

function meta(name, value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`${name}: must be an object of string values`);
  }
  const entries = Object.entries(value);
  if (entries.length > PSA_LIMITS.metaEntries) {
    throw badRequest(`${name}: more than ${PSA_LIMITS.metaEntries} entries`);
  }
  for (const [k, v] of entries) {
    if (!META_KEY.test(k) || k.length > PSA_LIMITS.metaKeyBytes) {
      throw badRequest(`${name}: a key is 1 to ${PSA_LIMITS.metaKeyBytes} of A-Z a-z 0-9 . _ -`);
    }
    text(`${name}.${k}`, v, PSA_LIMITS.metaValueBytes);
  }
  if (Buffer.byteLength(JSON.stringify(value), 'utf8') > PSA_LIMITS.metaJSONBytes) {
    throw badRequest(`${name}: larger than ${PSA_LIMITS.metaJSONBytes} bytes as JSON`);
  }
}

function cid(name, value) {
  if (typeof value !== 'string' || !parseCid(value)) {
    throw badRequest(`${name}: ${JSON.stringify(String(value).slice(0, 64))} is not a CID (CIDv0 Qm..., or CIDv1 in base32 b..., base36 k..., base58btc z... or base16 f...)`);
  }
}

// The Pin object of POST /pins and POST /pins/{requestid}.
function pinBody(request) {
  const pin = jsonBody(request);
  onlyKeys(pin, ['cid', 'name', 'origins', 'meta'], 'the pin');
  cid('cid', pin.cid);
  if (pin.name !== undefined) {
    text('name', pin.name, PSA_LIMITS.nameBytes);
  }
  if (pin.origins !== undefined) {
    if (!Array.isArray(pin.origins) || pin.origins.length > PSA_LIMITS.origins) {
      throw badRequest(`origins: must be an array of at most ${PSA_LIMITS.origins} multiaddresses`);
    }
    for (const o of pin.origins) {
      if (typeof o !== 'string' || !isOrigin(o)) {
        throw badRequest(`origins: ${JSON.stringify(String(o).slice(0, 64))} is not a multiaddress ending in /p2p/<peer ID>`);
      }
    }
    if (new Set(pin.origins).size !== pin.origins.length) {
      throw badRequest('origins: listed twice');
    }
  }
  if (pin.meta !== undefined) {
    meta('meta', pin.meta);
  }
}

// The query string, with the edge's strictness: each parameter once, known
// to the route, well-formed percent-encoded UTF-8.
function parseQuery(raw, allowed) {
  const params = new Map();
  for (const piece of (raw || '').split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    let key;
    let value;
    try {
      key = decodeURIComponent((eq < 0 ? piece : piece.slice(0, eq)).replace(/\+/g, ' '));
      value = decodeURIComponent((eq < 0 ? '' : piece.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      throw badRequest('the query is not well-formed percent-encoded UTF-8');
    }
    if (!allowed.includes(key)) {
      throw badRequest(`${JSON.stringify(key.slice(0, 64))} is not a parameter of this route; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`);
    }
    if (params.has(key)) {
      throw badRequest(`${key}: given more than once`);
    }
    params.set(key, value);
  }
  return params;
}

const PIN_STATUSES = ['queued', 'pinning', 'pinned', 'failed'];
const MATCHES = ['exact', 'iexact', 'partial', 'ipartial'];

// GET /pins: the spec's query parameters and ranges.
function listQuery(request) {
  const params = parseQuery(request.querystring, ['cid', 'name', 'match', 'status', 'before', 'after', 'limit', 'meta']);
  const list = (key, max, check) => {
    const items = params.get(key).split(',');
    if (items.length > max) throw badRequest(`${key}: more than ${max} entries`);
    items.forEach(check);
  };
  if (params.has('cid')) list('cid', PSA_LIMITS.cids, (c) => cid('cid', c));
  if (params.has('name')) text('name', params.get('name'), PSA_LIMITS.nameBytes);
  if (params.has('match') && !MATCHES.includes(params.get('match'))) {
    throw badRequest(`match: one of ${MATCHES.join(', ')}`);
  }
  if (params.has('status')) {
    list('status', PIN_STATUSES.length, (s) => {
      if (!PIN_STATUSES.includes(s)) throw badRequest(`status: ${JSON.stringify(s.slice(0, 64))} is not one of ${PIN_STATUSES.join(', ')}`);
    });
  }
  for (const key of ['before', 'after']) {
    if (params.has(key) && !isRFC3339(params.get(key))) {
      throw badRequest(`${key}: not an RFC 3339 time such as 2030-01-31T12:00:00Z`);
    }
  }
  if (params.has('limit')) {
    const v = params.get('limit');
    if (!/^[1-9][0-9]{0,3}$/.test(v) || Number(v) < PSA_LIMITS.limitMin || Number(v) > PSA_LIMITS.limitMax) {
      throw badRequest(`limit: an integer from ${PSA_LIMITS.limitMin} through ${PSA_LIMITS.limitMax}`);
    }
  }
  if (params.has('meta')) {
    let value;
    try {
      value = JSON.parse(params.get('meta'));
    } catch {
      throw badRequest('meta: not a JSON object');
    }
    meta('meta', value);
  }
}

function notAllowed(allow) {
  return new PsaRefusal(405, 'METHOD_NOT_ALLOWED', `this route accepts ${allow.join(', ')}`, {
    allow: [{ key: 'Allow', value: allow.join(', ') }],
  });
}

const notFound = () => new PsaRefusal(404, 'NOT_FOUND', 'no such route of the Pinning Service API');

// The path after PSA_PREFIX, split; only plain segments (no ".", "..",
// empty or percent-encoded ones): the origin sees the path unchanged, so
// it must mean the same to every reader. No trailing slash either.
function segments(uri) {
  const rest = uri.slice(PSA_PREFIX.length);
  if (!/^(?:\/[A-Za-z0-9_.~-]+)*$/.test(rest)) throw notFound();
  const parts = rest.split('/').slice(1);
  if (parts.some((s) => s === '.' || s === '..')) throw notFound();
  return parts;
}

/**
 * Checks a PSA request (after its token was verified): its route, method,
 * query and body. Throws a PsaRefusal; returns nothing when it may pass.
 */
export function checkPsaRoute(request) {
  const parts = segments(request.uri);
  const method = request.method;
  if (parts.length === 1 && parts[0] === 'pins') {
    if (method === 'GET') {
      noBody(request);
      listQuery(request);
      return;
    }
    if (method === 'POST') {
      parseQuery(request.querystring, []);
      pinBody(request);
      return;
    }
    throw notAllowed(['GET', 'POST']);
  }
  if (parts.length === 2 && parts[0] === 'pins') {
    if (!PSA_LIMITS.requestId.test(parts[1])) {
      throw badRequest(`requestid: 1 to 256 of A-Z a-z 0-9 _ -`);
    }
    parseQuery(request.querystring, []);
    if (method === 'GET' || method === 'DELETE') {
      noBody(request);
      return;
    }
    if (method === 'POST') {
      pinBody(request);
      return;
    }
    throw notAllowed(['GET', 'POST', 'DELETE']);
  }
  throw notFound();
}

/** Validates a PSA request without its token (tests and tools). */
export function validatePsaRequest(request) {
  try {
    checkPsaRoute(request);
    return null;
  } catch (err) {
    if (err instanceof PsaRefusal) return err.response;
    throw err;
  }
}

// --- the handler's part ------------------------------------------------------

function authorizationValue(request) {
  const entries = request.headers && request.headers.authorization;
  if (!Array.isArray(entries) || entries.length !== 1) return null;
  return typeof entries[0].value === 'string' ? entries[0].value : null;
}

// POST /psa/token: {"name"?: string, "expires_in"?: seconds}.
function tokenRequest(request) {
  parseQuery(request.querystring, []);
  const body = jsonBody(request, { optional: true });
  onlyKeys(body, ['name', 'expires_in'], 'the token request');
  const name = body.name ?? 'psa-client';
  if (typeof name !== 'string' || !PSA_LIMITS.tokenName.test(name)) {
    throw badRequest('name: 1 to 64 of A-Z a-z 0-9 . _ @ -');
  }
  const expiresIn = body.expires_in ?? PSA_LIMITS.defaultExpiresIn;
  if (!Number.isSafeInteger(expiresIn) || expiresIn < PSA_LIMITS.minExpiresIn || expiresIn > PSA_LIMITS.maxExpiresIn) {
    throw badRequest(`expires_in: whole seconds from ${PSA_LIMITS.minExpiresIn} through ${PSA_LIMITS.maxExpiresIn}`);
  }
  return { sub: name, expiresIn };
}

function okJSON(value) {
  return {
    status: '200',
    statusDescription: 'OK',
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'application/json' }],
    },
    body: JSON.stringify(value),
  };
}

/**
 * Answers or forwards a request under PSA_PREFIX. ctx (from createHandler):
 *   checkBasic(supplied) -> Promise<boolean>: the REST API credentials
 *     compared in constant time (throws when they cannot be loaded);
 *   credentials() -> Promise<{username, password}>;
 *   tokenSecret() -> Promise<parseTokenSecret(...)>, with
 *     tokenSecret.expireOlderThan(ms) -> boolean (drops an old cached value);
 *   realm, nowSec(), log.
 */
export async function handlePsa(request, ctx) {
  try {
    return await psa(request, ctx);
  } catch (err) {
    if (err instanceof PsaRefusal) return err.response;
    // Name and message only: loaders never put secret values there.
    ctx.log(`psa: cannot load a secret (${err && err.name}: ${err && err.message}); failing closed`);
    return psaFailure(503, 'SERVICE_UNAVAILABLE', 'the pinning service cannot check credentials now; retry', {
      'retry-after': [{ key: 'Retry-After', value: '5' }],
    });
  }
}

async function psa(request, ctx) {
  if (request.uri === `${PSA_PREFIX}/token`) {
    if (request.method !== 'POST') throw notAllowed(['POST']);
    const basicChallenge = {
      'www-authenticate': [{ key: 'WWW-Authenticate', value: `Basic realm="${ctx.realm}", charset="UTF-8"` }],
    };
    const supplied = parseBasicAuthorization(authorizationValue(request));
    if (!supplied || !(await ctx.checkBasic(supplied))) {
      throw new PsaRefusal(401, 'UNAUTHORIZED', 'POST /psa/token needs the REST API credentials (HTTP Basic)', basicChallenge);
    }
    const claims = tokenRequest(request);
    const issued = issueToken(await ctx.tokenSecret(), claims, ctx.nowSec());
    ctx.log(`psa: issued token ${issued.jti} to ${claims.sub}, expires ${new Date(issued.exp * 1000).toISOString()}`);
    return okJSON({ token: issued.token, id: issued.jti, name: claims.sub, expires_at: new Date(issued.exp * 1000).toISOString() });
  }

  const value = authorizationValue(request);
  const token = parseBearer(value);
  if (!token) {
    const details = value === null ? 'an access token is required (Authorization: Bearer <token>; POST /psa/token issues one)' : 'the Authorization header is not "Bearer <token>"';
    throw new PsaRefusal(401, 'UNAUTHORIZED', details, bearerChallenge(value === null ? null : 'invalid_request', details));
  }
  const parsed = parseToken(token);
  let claims;
  try {
    claims = checkToken(parsed, await ctx.tokenSecret(), ctx.nowSec());
  } catch (err) {
    // Perhaps signed with a key newer than the cached one: read it again
    // (not more often than keyRefreshMs) and check once more.
    if (!(err instanceof PsaRefusal && err.message === SIGNATURE_MISMATCH && ctx.tokenSecret.expireOlderThan(PSA_LIMITS.keyRefreshMs))) {
      throw err;
    }
    claims = checkToken(parsed, await ctx.tokenSecret(), ctx.nowSec());
  }
  // Only callers with a valid token learn what the service would refuse.
  checkPsaRoute(request);
  const { username, password } = await ctx.credentials();
  const headers = { ...request.headers };
  delete headers['x-psa-client'];
  headers.authorization = [{ key: 'Authorization', value: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}` }];
  headers['x-psa-client'] = [{ key: 'X-Psa-Client', value: claims.sub }];
  return { ...request, headers };
}
