// Lambda@Edge viewer-request function: HTTP Basic authentication in front of
// the IPFS Cluster REST API (and the gateway when it is private), then a
// check of every request to the cluster's pin endpoints (see "Pin endpoint
// validation" below).
//
// The credentials live in the REST API credentials secret in Secrets Manager
// ({"username": "...", "password": "..."}), replicated to us-east-1. The
// bundle carries only the secret's NAME, in the sibling config.json that the
// CDK construct writes into the asset at synth time: Lambda@Edge forbids
// environment variables.
//
// Requests under /psa (the Pinning Service API) are psa.mjs's: Bearer
// tokens signed with the token key secret, named in config.json too.
//
// On success the request is returned unchanged: the Authorization header
// still reaches the origin, where the cluster checks the same credentials
// again (defence in depth). Every failure is answered here and never passed
// through: 401 for missing or bad credentials, 503 when the credentials
// cannot be loaded (fail closed). Neither the secret nor the Authorization
// header is ever logged.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { posix } from 'node:path';

import { handlePsa, isPsaUri, parseTokenSecret } from './psa.mjs';

/** Default time the credentials are cached before they are read again. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000;
/** Default bound on one credentials load (the viewer-request timeout is 5 s). */
export const DEFAULT_LOAD_TIMEOUT_MS = 3000;
/** Authorization header values longer than this are refused unread. */
export const MAX_AUTHORIZATION_LENGTH = 1024;
/** Realm used when config.json names none. */
export const DEFAULT_REALM = 'IPFS Cluster';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Printable ASCII only (space .. tilde): no control characters, nothing
// beyond 0x7E.
const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

// A per-container random key: both sides of every comparison are HMACed
// with it so that timingSafeEqual always compares two 32-byte digests,
// whatever the lengths of the supplied and the expected values.
const HMAC_KEY = randomBytes(32);

function digest(value) {
  return createHmac('sha256', HMAC_KEY).update(value, 'utf8').digest();
}

function safeEqual(a, b) {
  return timingSafeEqual(digest(a), digest(b));
}

function plainResponse(status, statusDescription, extraHeaders = {}) {
  return {
    status: String(status),
    statusDescription,
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
      ...extraHeaders,
    },
    body: statusDescription,
  };
}

function unauthorized(realm) {
  return plainResponse(401, 'Unauthorized', {
    'www-authenticate': [
      { key: 'WWW-Authenticate', value: `Basic realm="${realm}", charset="UTF-8"` },
    ],
  });
}

function unavailable() {
  return plainResponse(503, 'Service Unavailable', {
    'retry-after': [{ key: 'Retry-After', value: '5' }],
  });
}

/**
 * Parses an Authorization header value. Returns {username, password} or null
 * when the value is not well-formed Basic credentials made of printable ASCII.
 */
export function parseBasicAuthorization(value) {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_AUTHORIZATION_LENGTH) {
    return null;
  }
  const match = /^Basic +(\S+) *$/i.exec(value);
  if (!match) {
    return null;
  }
  const token = match[1];
  if (token.length % 4 !== 0 || !BASE64.test(token)) {
    return null;
  }
  const decoded = Buffer.from(token, 'base64');
  // Strict ASCII check on the raw bytes (a latin1 view maps each byte to
  // one code unit, so any byte >= 0x80 fails the pattern).
  const text = decoded.toString('latin1');
  if (!PRINTABLE_ASCII.test(text)) {
    return null;
  }
  const colon = text.indexOf(':');
  if (colon <= 0) {
    return null;
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function authorizationValue(request) {
  const entries = request && request.headers && request.headers.authorization;
  if (!Array.isArray(entries) || entries.length !== 1) {
    return null; // missing, or sent more than once
  }
  const { value } = entries[0] || {};
  return typeof value === 'string' ? value : null;
}

function validCredentials(credentials) {
  return (
    credentials !== null &&
    typeof credentials === 'object' &&
    typeof credentials.username === 'string' &&
    typeof credentials.password === 'string' &&
    credentials.username.length > 0 &&
    credentials.password.length > 0
  );
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} load timed out`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A loaded value reused for ttlMs, loaded by one call at a time; parse
// checks (and may convert) it, and throws when it is unusable.
function cachedLoader(load, parse, what, { ttlMs, now, timeoutMs }) {
  let cached = null; // { value, loadedAt, expiresAt }
  let inflight = null;
  function get() {
    if (cached && now() < cached.expiresAt) {
      return Promise.resolve(cached.value);
    }
    inflight ??= (async () => {
      try {
        const value = parse(await withTimeout(Promise.resolve().then(load), timeoutMs, what));
        const loadedAt = now();
        cached = { value, loadedAt, expiresAt: loadedAt + ttlMs };
        return value;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }
  // Drops the cached value when it was loaded at least minAgeMs ago, so
  // that the next get() loads again; says whether it did.
  get.expireOlderThan = (minAgeMs) => {
    if (cached && now() - cached.loadedAt >= minAgeMs) {
      cached = null;
      return true;
    }
    return false;
  };
  return get;
}

function noTokenSecret() {
  return Promise.reject(new Error('no token key secret is configured'));
}

/**
 * Builds a viewer-request handler.
 *
 * @param {object} options
 * @param {() => Promise<{username: string, password: string}>} options.loadCredentials
 *   where the expected credentials come from (tests inject their own).
 * @param {() => Promise<{key: string, revoked?: object}>} [options.loadTokenSecret]
 *   where the PSA token key secret comes from; without it /psa answers 503.
 * @param {number} [options.cacheTtlMs] how long loaded credentials are reused.
 * @param {() => number} [options.now] clock in milliseconds (tests inject their own).
 * @param {number} [options.loadTimeoutMs] bound on one load; a slower load fails closed.
 * @param {string} [options.realm] realm announced in WWW-Authenticate.
 * @param {(message: string) => void} [options.log] receives error summaries, never secrets.
 */
export function createHandler({
  loadCredentials,
  loadTokenSecret = noTokenSecret,
  cacheTtlMs = DEFAULT_CACHE_TTL_MS,
  now = Date.now,
  loadTimeoutMs = DEFAULT_LOAD_TIMEOUT_MS,
  realm = DEFAULT_REALM,
  log = (message) => console.error(message),
} = {}) {
  if (typeof loadCredentials !== 'function') {
    throw new TypeError('createHandler: loadCredentials must be a function');
  }
  if (/["\\\r\n]/.test(realm) || !PRINTABLE_ASCII.test(realm)) {
    throw new TypeError('createHandler: realm must be printable ASCII without quotes or backslashes');
  }

  const cache = { ttlMs: cacheTtlMs, now, timeoutMs: loadTimeoutMs };
  const credentials = cachedLoader(loadCredentials, (loaded) => {
    if (!validCredentials(loaded)) {
      throw new Error('credentials secret is not {"username","password"} with non-empty strings');
    }
    return Object.freeze({ username: loaded.username, password: loaded.password });
  }, 'credentials', cache);
  const tokenSecret = cachedLoader(loadTokenSecret, parseTokenSecret, 'token key', cache);

  // Both comparisons always run (bitwise &, no short-circuit).
  async function checkBasic(supplied) {
    const expected = await credentials();
    const userOk = safeEqual(supplied.username, expected.username);
    const passOk = safeEqual(supplied.password, expected.password);
    return (userOk & passOk) === 1;
  }
  const psaContext = { checkBasic, credentials, tokenSecret, realm, log, nowSec: () => Math.floor(now() / 1000) };

  return async function handler(event) {
    const request = event && event.Records && event.Records[0] && event.Records[0].cf
      ? event.Records[0].cf.request
      : undefined;
    if (!request) {
      return unauthorized(realm);
    }
    if (isPsaUri(request.uri)) {
      return handlePsa(request, psaContext);
    }

    // Malformed or missing credentials are refused before the secret is
    // touched, so anonymous traffic never causes Secrets Manager calls.
    const supplied = parseBasicAuthorization(authorizationValue(request));
    if (!supplied) {
      return unauthorized(realm);
    }

    let ok;
    try {
      ok = await checkBasic(supplied);
    } catch (err) {
      // Error name and message only: loaders never put secret values there.
      log(`basic-auth: cannot load credentials (${err && err.name}: ${err && err.message}); failing closed`);
      return unavailable();
    }
    if (!ok) {
      return unauthorized(realm);
    }
    // Only authenticated callers learn what the cluster would refuse.
    return validateRequest(request) ?? request;
  };
}

// ---------------------------------------------------------------------------
// Pin endpoint validation
//
// ipfs-cluster v1.1.6 mishandles some bad requests (DESIGN.md §10): its
// ParseCidOrFail and ParsePinPathOrFail write a 400 when the query does not
// parse but do not return, so `DELETE /pins/<cid>?replication-min=abc`
// answers 400 AND unpins cluster-wide, and the matching POST pins anyway;
// it silently ignores unknown parameters, unknown modes and filters, bad
// peer IDs in user-allocations and all but the first of a repeated
// parameter; impossible replication answers 500. So every request to the
// pin routes is checked here, against the parameters v1.1.6 reads
// (api/rest/restapi.go, api/types.go PinOptions.FromQuery, api/add.go
// AddParamsFromQuery), and refused with a 400 naming the parameter before
// it can reach the cluster. Other paths (the gateway's /ipfs/ and /ipns/,
// the API's /id, /peers, /health, /version, /monitor/...) pass unchanged:
// the same function also guards a private gateway.
// ---------------------------------------------------------------------------

/**
 * Bounds on what a pin may carry. Every pin option is stored in the shared
 * CRDT state of every peer, sent in every status answer and printed by
 * ipfs-cluster-ctl, so free text is kept to what a person would type; the
 * numbers are far above any use and far below CloudFront's 8 KB URL limit.
 */
export const PIN_LIMITS = Object.freeze({
  /** Pin name, in UTF-8 bytes: a file name's worth (NAME_MAX). */
  nameBytes: 255,
  /** meta-* parameters on one request. */
  metaEntries: 16,
  /** Metadata key (after "meta-"), in bytes, of [A-Za-z0-9._-]. */
  metaKeyBytes: 64,
  /** Metadata value, in UTF-8 bytes. */
  metaValueBytes: 512,
  /** replication-min/-max/replication: more than any cluster has peers. */
  replication: 1000,
  /** Peer IDs in user-allocations. */
  userAllocations: 64,
  /** Multiaddresses in origins, and the length of each. */
  origins: 16,
  originChars: 512,
  /** CIDs in GET /pins?cids=. */
  cids: 256,
  /** A CID or peer ID in text form (an identity CID carries up to 128 bytes). */
  cidChars: 256,
  /** An IPFS path after /pins, in bytes, and one of its segments. */
  pathBytes: 2048,
  segmentBytes: 255,
});

/** Marks a request the edge refuses; turned into a JSON response. */
class Refusal extends Error {
  constructor(status, error, parameter, message, headers = {}) {
    super(message);
    this.status = status;
    this.error = error;
    this.parameter = parameter;
    this.headers = headers;
  }
}

const STATUS_TEXT = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed' };

function refusalResponse(r) {
  // "code" and "message" are also the fields of the cluster's own error
  // body (api.Error), so ipfs-cluster-ctl prints the reason.
  const body = { code: r.status, error: r.error, message: r.message };
  if (r.parameter !== undefined) {
    body.parameter = r.parameter;
  }
  return {
    status: String(r.status),
    statusDescription: STATUS_TEXT[r.status],
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'application/json' }],
      ...r.headers,
    },
    body: JSON.stringify(body),
  };
}

const bad = (parameter, message) => new Refusal(400, 'bad_parameter', parameter, `${parameter}: ${message}`);

// A parameter name or value quoted in a message: bounded and printable.
function quote(s) {
  const short = s.length > 64 ? `${s.slice(0, 64)}...` : s;
  return JSON.stringify(short);
}

// --- percent-decoding, as Go's net/url does it ---------------------------

const HEX = /^[0-9A-Fa-f]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Decodes %XX escapes (and '+' as a space in a query) to bytes; null when an
// escape is malformed (Go refuses those: 400 from the server, or the query
// pair is silently dropped), unless lenient, which keeps them as they are.
function percentDecode(s, plusIsSpace, lenient = false) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!HEX.test(h)) {
        if (lenient) {
          out.push(c);
          continue;
        }
        return null;
      }
      out.push(parseInt(h, 16));
      i += 2;
    } else if (c === 0x2b && plusIsSpace) {
      out.push(0x20);
    } else if (c < 0x80) {
      out.push(c);
    } else {
      // Raw non-ASCII (a client that did not escape it): its UTF-8 bytes.
      const ch = String.fromCodePoint(s.codePointAt(i));
      out.push(...Buffer.from(ch, 'utf8'));
      i += ch.length - 1;
    }
  }
  return Buffer.from(out);
}

function utf8OrNull(bytes) {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

// Parses the raw query string like Go's url.ParseQuery, but refuses what Go
// would silently drop (semicolons, bad escapes, invalid UTF-8) and repeated
// parameters (Go keeps all, the cluster reads only the first).
function parseQuery(raw) {
  const params = new Map();
  for (const piece of (raw || '').split('&')) {
    if (piece === '') {
      continue;
    }
    const eq = piece.indexOf('=');
    const rawKey = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1);
    const keyBytes = percentDecode(rawKey, true);
    const key = keyBytes && utf8OrNull(keyBytes);
    if (key === null || key === '') {
      throw bad(rawKey, 'not a well-formed parameter name');
    }
    if (piece.includes(';')) {
      throw bad(key, 'semicolons are not separators (Go drops such parameters)');
    }
    const valueBytes = percentDecode(rawValue, true);
    const value = valueBytes && utf8OrNull(valueBytes);
    if (value === null) {
      throw bad(key, 'the value is not well-formed percent-encoded UTF-8');
    }
    if (params.has(key)) {
      throw new Refusal(400, 'duplicate_parameter', key, `${key}: given more than once (the cluster would read only the first)`);
    }
    params.set(key, value);
  }
  return params;
}

// --- multibase, varint, multihash, CID, peer ID --------------------------

const BASE58BTC = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

// Big-number base decoding (base58btc, base36): leading zero digits are
// leading zero bytes. Quadratic, on strings bounded by PIN_LIMITS.cidChars.
function decodeBaseX(s, alphabet) {
  const base = alphabet.length;
  let zeros = 0;
  while (zeros < s.length && s[zeros] === alphabet[0]) {
    zeros++;
  }
  const bytes = []; // little-endian
  for (let i = zeros; i < s.length; i++) {
    let carry = alphabet.indexOf(s[i]);
    if (carry < 0) {
      return null;
    }
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * base;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes.reverse()]);
}

// RFC 4648 base32, lower case, no padding, canonical (unused bits zero).
function decodeBase32(s) {
  const out = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of s) {
    const v = BASE32.indexOf(ch);
    if (v < 0) {
      return null;
    }
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits >= 5 || buffer !== 0) {
    return null;
  }
  return Uint8Array.from(out);
}

function decodeBase16(s) {
  return /^(?:[0-9a-f]{2})*$/.test(s) ? Uint8Array.from(Buffer.from(s, 'hex')) : null;
}

// The multibase prefixes accepted in CIDs and peer IDs: the ones tools
// print (base32 for CIDv1, base36 for IPNS keys) plus base58btc and base16.
// go-cid decodes a dozen more (base64, upper-case variants, ...): the edge
// refuses them so that one CID has few spellings; convert with `ipfs cid
// format -b base32`.
const MULTIBASES = { b: decodeBase32, k: (s) => decodeBaseX(s, BASE36), z: (s) => decodeBaseX(s, BASE58BTC), f: decodeBase16 };

// Unsigned varint as go-varint reads it: at most 9 bytes, minimally encoded.
function readVarint(bytes, offset) {
  let value = 0n;
  for (let i = 0; i < 9 && offset + i < bytes.length; i++) {
    const b = bytes[offset + i];
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) {
        return null; // not minimally encoded
      }
      return { value, next: offset + i + 1 };
    }
  }
  return null;
}

// Multihash functions kubo (boxo/verifcid) accepts for content; anything
// else would be pinned into the cluster state and then fail on every peer.
function hashAllowed(code) {
  return (
    [0x00, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x56].includes(code) ||
    (code >= 0xb201 + 19 && code <= 0xb240) || // blake2b-160 .. blake2b-512
    (code >= 0xb241 + 19 && code <= 0xb260) // blake2s-160 .. blake2s-256
  );
}

// Reads a multihash filling bytes[offset..] exactly; returns its code.
function readMultihash(bytes, offset) {
  const code = readVarint(bytes, offset);
  const length = code && readVarint(bytes, code.next);
  if (!length || BigInt(bytes.length - length.next) !== length.value) {
    return null;
  }
  const c = Number(code.value);
  const size = Number(length.value);
  if (!hashAllowed(c) || size > 128 || (c !== 0x00 && size < 20)) {
    return null;
  }
  return { code: c, size };
}

/**
 * Parses a CID the way go-cid's Decode does (CIDv0: 46 characters "Qm..."
 * in base58btc; CIDv1: a multibase string), limited to the multibases of
 * MULTIBASES and to hash functions kubo accepts. Returns {version, codec}
 * or null.
 */
export function parseCid(s) {
  if (typeof s !== 'string' || s.length < 2 || s.length > PIN_LIMITS.cidChars) {
    return null;
  }
  if (s.length === 46 && s.startsWith('Qm')) {
    const bytes = decodeBaseX(s, BASE58BTC);
    return bytes && bytes.length === 34 && bytes[0] === 0x12 && bytes[1] === 0x20 ? { version: 0, codec: 0x70 } : null;
  }
  const decode = MULTIBASES[s[0]];
  const bytes = decode && decode(s.slice(1));
  if (!bytes) {
    return null;
  }
  if (bytes.length === 34 && bytes[0] === 0x12 && bytes[1] === 0x20) {
    return { version: 0, codec: 0x70 }; // a CIDv0 in a multibase (go-cid accepts it)
  }
  const version = readVarint(bytes, 0);
  const codec = version && version.value === 1n && readVarint(bytes, version.next);
  if (!codec || !readMultihash(bytes, codec.next)) {
    return null;
  }
  return { version: 1, codec: Number(codec.value) };
}

const LIBP2P_KEY = 0x72;

/**
 * Checks a libp2p peer ID as go-libp2p's peer.Decode reads it: a base58btc
 * multihash ("12D3KooW...", "Qm...": identity of at most 42 bytes or
 * sha2-256) or a CIDv1 with the libp2p-key codec.
 */
export function isPeerID(s) {
  if (typeof s !== 'string' || s.length < 2 || s.length > PIN_LIMITS.cidChars) {
    return false;
  }
  if (s.startsWith('Qm') || s.startsWith('1')) {
    const bytes = decodeBaseX(s, BASE58BTC);
    const code = bytes && readVarint(bytes, 0);
    const length = code && readVarint(bytes, code.next);
    if (!length || BigInt(bytes.length - length.next) !== length.value) {
      return false;
    }
    return (code.value === 0x00n && length.value <= 42n) || (code.value === 0x12n && length.value === 32n);
  }
  const cid = parseCid(s);
  return cid !== null && cid.version === 1 && cid.codec === LIBP2P_KEY;
}

// --- values --------------------------------------------------------------

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function text(name, value, maxBytes) {
  if (Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw bad(name, `longer than ${maxBytes} bytes`);
  }
  if (CONTROL.test(value)) {
    throw bad(name, 'control characters are not allowed');
  }
}

function oneOf(name, value, allowed) {
  if (value !== '' && !allowed.includes(value)) {
    throw bad(name, `${quote(value)} is not one of ${allowed.join(', ')}`);
  }
}

// "true" or "false": the status and recover handlers compare with "true",
// so anything else (even "1" or "True") would silently mean false.
function strictBool(name, value) {
  oneOf(name, value, ['true', 'false']);
}

// strconv.ParseBool, which the /add handler uses.
function goBool(name, value) {
  oneOf(name, value, ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);
}

function replicationValue(name, value) {
  if (value === '') {
    return 0;
  }
  if (!/^(?:-1|0|[1-9][0-9]{0,3})$/.test(value) || Number(value) > PIN_LIMITS.replication) {
    throw bad(name, `${quote(value)} is not an integer from -1 (every peer) through ${PIN_LIMITS.replication}; 0 is the cluster's default`);
  }
  return Number(value);
}

const UINT64_MAX = 2n ** 64n - 1n;

function uint64(name, value) {
  if (value !== '' && (!/^(?:0|[1-9][0-9]{0,19})$/.test(value) || BigInt(value) > UINT64_MAX)) {
    throw bad(name, `${quote(value)} is not an unsigned 64-bit integer`);
  }
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;

// time.Time.UnmarshalText: RFC 3339 with optional fraction, strict ranges.
export function isRFC3339(value) {
  const m = RFC3339.exec(value);
  if (!m) {
    return false;
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && leap ? 29 : DAYS[month - 1];
  const zoneOk = m[7] === undefined || (Number(m[8]) <= 23 && Number(m[9]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59 && zoneOk;
}

const DURATION_UNITS = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)/;

// time.ParseDuration, positive only; returns nanoseconds or null.
function parseDuration(value) {
  let rest = value;
  let total = 0;
  if (rest === '') {
    return null;
  }
  while (rest !== '') {
    const m = DURATION.exec(rest);
    if (!m) {
      return null;
    }
    const unit = /(ns|us|µs|μs|ms|s|m|h)$/.exec(m[0])[1];
    total += Number(m[0].slice(0, -unit.length)) * DURATION_UNITS[unit];
    rest = rest.slice(m[0].length);
  }
  return total;
}

const MAX_DURATION_NS = 2 ** 63 - 1;

function expireIn(name, value) {
  const ns = parseDuration(value);
  if (ns === null || ns >= MAX_DURATION_NS) {
    throw bad(name, `${quote(value)} is not a Go duration such as 720h or 90m`);
  }
  if (ns < 1e9) {
    throw bad(name, 'shorter than one second');
  }
}

function commaList(name, value, max, check, what) {
  if (value === '') {
    return;
  }
  const items = value.split(',');
  if (items.length > max) {
    throw bad(name, `more than ${max} entries`);
  }
  for (const item of items) {
    if (!check(item)) {
      throw bad(name, `${quote(item)} is not ${what}`);
    }
  }
}

// Multiaddr protocols an origin may use and how each one's value is
// checked (null: the protocol takes no value). An origin must name its peer
// (/p2p/<peer ID>): the cluster refuses it otherwise.
const DNS_NAME = /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
const PORT = (v) => /^(?:0|[1-9][0-9]{0,4})$/.test(v) && Number(v) <= 65535;
const MULTIADDR_PROTOCOLS = {
  ip4: isIPv4,
  ip6: isIPv6,
  dns: (v) => DNS_NAME.test(v),
  dns4: (v) => DNS_NAME.test(v),
  dns6: (v) => DNS_NAME.test(v),
  dnsaddr: (v) => DNS_NAME.test(v),
  tcp: PORT,
  udp: PORT,
  p2p: isPeerID,
  ipfs: isPeerID,
  certhash: (v) => /^[a-zA-Z0-9_-]{4,128}$/.test(v),
  sni: (v) => DNS_NAME.test(v),
  quic: null,
  'quic-v1': null,
  webtransport: null,
  ws: null,
  wss: null,
  tls: null,
  http: null,
  https: null,
  noise: null,
  webrtc: null,
  'webrtc-direct': null,
  'p2p-circuit': null,
};

export function isOrigin(s) {
  if (s.length > PIN_LIMITS.originChars || !s.startsWith('/')) {
    return false;
  }
  const parts = s.slice(1).split('/');
  let peer = false;
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i];
    if (!Object.hasOwn(MULTIADDR_PROTOCOLS, name)) {
      return false;
    }
    const check = MULTIADDR_PROTOCOLS[name];
    if (check) {
      const value = parts[++i];
      if (value === undefined || !check(value)) {
        return false;
      }
      peer ||= name === 'p2p' || name === 'ipfs';
    }
  }
  return peer;
}

const CHUNK_SIZE_LIMIT = 2 * 1024 * 1024 - 256; // boxo chunker.ChunkSizeLimit

// boxo chunker.FromString: size-<n>, rabin[-<avg>|-<min>-<avg>-<max>], buzhash.
function chunker(name, value) {
  const n = (v) => (/^(?:0|[1-9][0-9]{0,7})$/.test(v) ? Number(v) : NaN);
  const label = (part, want) => {
    const sub = part.split(':');
    return sub.length === 1 || (sub.length === 2 && sub[0] === want) ? n(sub[sub.length - 1]) : NaN;
  };
  const parts = value.split('-');
  let ok = false;
  if (value === '' || value === 'default' || value === 'buzhash') {
    ok = true;
  } else if (parts[0] === 'size' && parts.length === 2) {
    ok = n(parts[1]) > 0 && n(parts[1]) <= CHUNK_SIZE_LIMIT;
  } else if (parts[0] === 'rabin' && parts.length === 1) {
    ok = true;
  } else if (parts[0] === 'rabin' && parts.length === 2) {
    ok = n(parts[1]) > 0 && Math.trunc(n(parts[1]) * 1.5) <= CHUNK_SIZE_LIMIT;
  } else if (parts[0] === 'rabin' && parts.length === 4) {
    const [min, avg, max] = [label(parts[1], 'min'), label(parts[2], 'avg'), label(parts[3], 'max')];
    ok = min >= 16 && min < avg && avg < max && max <= CHUNK_SIZE_LIMIT;
  }
  if (!ok) {
    throw bad(name, `${quote(value)} is not size-<bytes> (at most ${CHUNK_SIZE_LIMIT}), rabin, rabin-<avg>, rabin-<min>-<avg>-<max> or buzhash`);
  }
}

// go-multihash names (the adder lower-cases them) that kubo accepts for
// content; identity, md5, murmur3 and the like are refused.
const ADD_HASHES = [
  'sha2-256', 'sha2-512', 'sha3-224', 'sha3-256', 'sha3-384', 'sha3-512',
  'keccak-224', 'keccak-256', 'keccak-384', 'keccak-512', 'blake3',
  'blake2b-256', 'blake2b-384', 'blake2b-512', 'blake2s-256', 'dbl-sha2-256', 'sha1',
];

const TRACKER_STATUSES = [
  'cluster_error', 'pin_error', 'unpin_error', 'error', 'pinned', 'pinning', 'unpinning', 'unpinned',
  'remote', 'pin_queued', 'unpin_queued', 'queued', 'sharded', 'unexpectedly_unpinned',
];
const PIN_TYPES = ['pin', 'meta-pin', 'clusterdag-pin', 'shard-pin', 'all'];

const META_PREFIX = 'meta-';
const META_KEY = /^[A-Za-z0-9._-]+$/;

// PinOptions.FromQuery: what POST /pins/{cid}, POST /pins/{path} and /add read.
const PIN_OPTIONS = {
  name: (k, v) => text(k, v, PIN_LIMITS.nameBytes),
  mode: (k, v) => oneOf(k, v, ['recursive', 'direct']),
  replication: replicationValue,
  'replication-min': replicationValue,
  'replication-max': replicationValue,
  'shard-size': uint64,
  'user-allocations': (k, v) => commaList(k, v, PIN_LIMITS.userAllocations, isPeerID, 'a peer ID'),
  'expire-at': (k, v) => {
    if (v !== '' && !isRFC3339(v)) {
      throw bad(k, `${quote(v)} is not an RFC 3339 time such as 2030-01-31T12:00:00Z`);
    }
  },
  'expire-in': (k, v) => v === '' || expireIn(k, v),
  'pin-update': (k, v) => {
    if (v !== '' && !parseCid(v)) {
      throw bad(k, `${quote(v)} is not a CID`);
    }
  },
  origins: (k, v) => commaList(k, v, PIN_LIMITS.origins, isOrigin, 'a multiaddress ending in /p2p/<peer ID>'),
};

// AddParamsFromQuery adds these to the pin options.
const ADD_OPTIONS = {
  ...PIN_OPTIONS,
  local: goBool,
  recursive: goBool,
  hidden: goBool,
  'wrap-with-directory': goBool,
  shard: goBool,
  progress: goBool,
  'raw-leaves': goBool,
  'stream-channels': goBool,
  nocopy: goBool,
  'no-pin': goBool,
  layout: (k, v) => oneOf(k, v, ['balanced', 'trickle']),
  format: (k, v) => oneOf(k, v, ['unixfs', 'car']),
  chunker,
  hash: (k, v) => oneOf(k, v.toLowerCase(), ADD_HASHES),
  'cid-version': (k, v) => oneOf(k, v, ['0', '1']),
};

const LOCAL_ONLY = { local: strictBool };

const STATUS_ALL = {
  local: strictBool,
  // TrackerStatusFromString drops unknown names and spaces: "pinned,typo"
  // would silently mean "pinned".
  filter: (k, v) => commaList(k, v, TRACKER_STATUSES.length, (s) => TRACKER_STATUSES.includes(s), 'a pin status'),
  cids: (k, v) => commaList(k, v, PIN_LIMITS.cids, (s) => parseCid(s) !== null, 'a CID'),
};

const ALLOCATIONS = {
  // "pin,typo" passes the cluster's own check (only a filter of nothing
  // but unknown names is refused there).
  filter: (k, v) => commaList(k, v, PIN_TYPES.length, (s) => PIN_TYPES.includes(s), 'a pin type'),
};

// Checks params against rules; meta-* only where metadata is accepted.
function checkParams(params, rules, { metadata = false } = {}) {
  let metaEntries = 0;
  for (const [key, value] of params) {
    if (metadata && key.startsWith(META_PREFIX)) {
      const metaKey = key.slice(META_PREFIX.length);
      if (!META_KEY.test(metaKey) || metaKey.length > PIN_LIMITS.metaKeyBytes) {
        throw bad(key, `a metadata key is 1 to ${PIN_LIMITS.metaKeyBytes} of A-Z a-z 0-9 . _ -`);
      }
      if (++metaEntries > PIN_LIMITS.metaEntries) {
        throw bad(key, `more than ${PIN_LIMITS.metaEntries} metadata entries`);
      }
      text(key, value, PIN_LIMITS.metaValueBytes);
      continue;
    }
    if (!Object.hasOwn(rules, key)) {
      const known = Object.keys(rules).concat(metadata ? ['meta-<key>'] : []);
      throw new Refusal(400, 'unknown_parameter', key,
        `${quote(key)} is not a parameter of this route; allowed: ${known.length ? known.join(', ') : 'none'}`);
    }
    rules[key](key, value);
  }
  if (!metadata) {
    return;
  }
  // Cross-parameter rules of PinOptions.FromQuery and the cluster's
  // isReplicationFactorValid (which answers 500 after the fact).
  if (params.has('replication') && (params.has('replication-min') || params.has('replication-max'))) {
    throw bad('replication', 'sets both replication-min and replication-max: give it alone');
  }
  if (params.has('expire-at') && params.has('expire-in')) {
    throw bad('expire-in', 'give expire-at or expire-in, not both (the cluster ignores expire-in then)');
  }
  const min = Number(params.get('replication-min') || 0);
  const max = Number(params.get('replication-max') || 0);
  if (min !== 0 && max !== 0) {
    if ((min === -1) !== (max === -1)) {
      throw bad('replication-min', '-1 (every peer) must be given for both replication-min and replication-max, or for neither');
    }
    if (min > max) {
      throw bad('replication-min', `${min} is larger than replication-max ${max}`);
    }
  }
}

function cidSegment(segment) {
  if (!parseCid(segment)) {
    throw new Refusal(400, 'bad_cid', 'cid', `${quote(segment)} is not a CID (CIDv0 Qm..., or CIDv1 in base32 b..., base36 k..., base58btc z... or base16 f...)`);
  }
}

// /pins/{ipfs|ipns|ipld}/<root>[/<segments>] as boxo's path.NewPath reads
// it: an immutable root is a CID, an IPNS root a key or a DNS name.
function ipfsPath(segments) {
  const [namespace, root, ...rest] = segments;
  const refuse = (message) => new Refusal(400, 'bad_path', 'path', `/${segments.join('/')}: ${message}`);
  if (namespace === 'ipns') {
    if (!isPeerID(root) && !(DNS_NAME.test(root) && root.includes('.'))) {
      throw refuse(`${quote(root)} is neither an IPNS key nor a DNS name`);
    }
  } else if (!parseCid(root)) {
    throw refuse(`${quote(root)} is not a CID`);
  }
  let total = 0;
  for (const segment of rest) {
    const bytes = Buffer.byteLength(segment, 'utf8');
    total += bytes + 1;
    if (bytes > PIN_LIMITS.segmentBytes || CONTROL.test(segment)) {
      throw refuse(`a path segment is longer than ${PIN_LIMITS.segmentBytes} bytes or has control characters`);
    }
  }
  if (total > PIN_LIMITS.pathBytes) {
    throw refuse(`longer than ${PIN_LIMITS.pathBytes} bytes`);
  }
}

function header(request, name) {
  const entries = request.headers && request.headers[name];
  return Array.isArray(entries) && entries.length > 0 ? entries : null;
}

// The cluster never reads a DELETE body; one there is a client mistake or
// an attempt to smuggle something past a proxy.
function noBody(request) {
  const length = header(request, 'content-length');
  if (header(request, 'transfer-encoding') || (length && length.some((h) => String(h.value).trim() !== '0'))) {
    throw new Refusal(400, 'bad_request', 'body', 'a DELETE carries no body');
  }
}

function notAllowed(allow) {
  return new Refusal(405, 'method_not_allowed', undefined, `this route accepts ${allow.join(', ')}`, {
    allow: [{ key: 'Allow', value: allow.join(', ') }],
  });
}

const notFound = () => new Refusal(404, 'not_found', undefined, 'no such route of the ipfs-cluster REST API');

const PATH_NAMESPACES = ['ipfs', 'ipns', 'ipld'];

// Finds the route of a pin endpoint and checks the request against it.
// Returns without a word for paths that are not pin endpoints.
function checkPinRoute(request) {
  const method = request.method;
  // The cluster sees the decoded path after gorilla/mux cleaned it (".",
  // "..", "//") and its strict-slash handler dropped a trailing "/": route
  // on the same.
  const uri = request.uri || '/';
  const first = posix.normalize('/' + percentDecode(uri, false, true).toString('latin1')).split('/')[1];
  if (!['pins', 'add', 'allocations'].includes(first)) {
    return;
  }
  const decoded = percentDecode(uri, false);
  const path = decoded && utf8OrNull(decoded);
  if (path === null) {
    throw new Refusal(400, 'bad_request', 'uri', 'the path is not well-formed percent-encoded UTF-8');
  }
  const segments = posix.normalize('/' + path).replace(/\/+$/, '').split('/').slice(1);
  if (method === 'OPTIONS') {
    return; // CORS preflight: the cluster's CORS handler answers it
  }
  const params = () => parseQuery(request.querystring);

  if (first === 'add') {
    if (segments.length !== 1) throw notFound();
    if (method !== 'POST') throw notAllowed(['POST']);
    checkParams(params(), ADD_OPTIONS, { metadata: true });
    return;
  }
  if (first === 'allocations') {
    if (segments.length > 2) throw notFound();
    if (method !== 'GET') throw notAllowed(['GET']);
    if (segments.length === 1) {
      checkParams(params(), ALLOCATIONS);
    } else {
      cidSegment(segments[1]);
      checkParams(params(), {});
    }
    return;
  }
  // /pins...
  if (segments.length === 1) {
    if (method !== 'GET') throw notAllowed(['GET']);
    checkParams(params(), STATUS_ALL);
    return;
  }
  if (segments.length === 2 && segments[1] === 'recover' && method === 'POST') {
    checkParams(params(), LOCAL_ONLY);
    return;
  }
  if (segments.length === 3 && segments[2] === 'recover' && method === 'POST') {
    cidSegment(segments[1]);
    checkParams(params(), LOCAL_ONLY);
    return;
  }
  if (segments.length >= 3 && PATH_NAMESPACES.includes(segments[1])) {
    if (method === 'POST') {
      ipfsPath(segments.slice(1));
      checkParams(params(), PIN_OPTIONS, { metadata: true });
      return;
    }
    if (method === 'DELETE') {
      noBody(request);
      ipfsPath(segments.slice(1));
      // The unpin handlers parse pin options and ignore them; a bad one
      // still unpins (the upstream bug), so none is accepted.
      checkParams(params(), {});
      return;
    }
    throw notAllowed(['POST', 'DELETE']);
  }
  if (segments.length !== 2) {
    throw notFound();
  }
  switch (method) {
    case 'GET':
      cidSegment(segments[1]);
      checkParams(params(), LOCAL_ONLY);
      return;
    case 'POST':
      cidSegment(segments[1]);
      checkParams(params(), PIN_OPTIONS, { metadata: true });
      return;
    case 'DELETE':
      noBody(request);
      cidSegment(segments[1]);
      checkParams(params(), {});
      return;
    default:
      throw notAllowed(['GET', 'POST', 'DELETE']);
  }
}

/**
 * Checks a CloudFront viewer request against the pin endpoints of the
 * ipfs-cluster REST API. Returns null when it may reach the origin, or the
 * response that refuses it (400, 404 or 405 with a JSON body naming the
 * parameter, never cached).
 */
export function validateRequest(request) {
  try {
    checkPinRoute(request);
    return null;
  } catch (err) {
    if (err instanceof Refusal) {
      return refusalResponse(err);
    }
    throw err;
  }
}

/** Reads config.json, written next to this file by the CDK construct. */
export function readConfig(url = new URL('./config.json', import.meta.url)) {
  const config = JSON.parse(readFileSync(url, 'utf8'));
  if (typeof config.secretName !== 'string' || config.secretName.length === 0) {
    throw new Error('config.json: secretName missing');
  }
  if (config.tokenSecretName !== undefined && (typeof config.tokenSecretName !== 'string' || config.tokenSecretName.length === 0)) {
    throw new Error('config.json: tokenSecretName is not a secret name');
  }
  return {
    secretName: config.secretName,
    ...(config.tokenSecretName ? { tokenSecretName: config.tokenSecretName } : {}),
    secretRegion: typeof config.secretRegion === 'string' && config.secretRegion ? config.secretRegion : 'us-east-1',
    realm: typeof config.realm === 'string' && config.realm ? config.realm : DEFAULT_REALM,
  };
}

/**
 * Loader that reads a JSON secret from Secrets Manager. The SDK ships with
 * the Lambda Node.js runtime, so it is imported dynamically and not bundled.
 */
export function secretsManagerJSONLoader({ secretName, secretRegion }, what) {
  let client;
  return async function load() {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    client ??= new SecretsManagerClient({ region: secretRegion, maxAttempts: 2 });
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    if (typeof out.SecretString !== 'string') {
      throw new Error(`${what} secret has no SecretString`);
    }
    try {
      return JSON.parse(out.SecretString);
    } catch {
      // Never include the secret text (or the parser's excerpt of it).
      throw new Error(`${what} secret is not JSON`);
    }
  };
}

/** Loader of the REST API credentials secret. */
export function secretsManagerLoader(config) {
  const load = secretsManagerJSONLoader(config, 'credentials');
  return async function loadCredentials() {
    const parsed = await load();
    return { username: parsed && parsed.username, password: parsed && parsed.password };
  };
}

let defaultHandler;

function getDefaultHandler() {
  if (!defaultHandler) {
    try {
      const config = readConfig();
      defaultHandler = createHandler({
        loadCredentials: secretsManagerLoader(config),
        ...(config.tokenSecretName
          ? { loadTokenSecret: secretsManagerJSONLoader({ secretName: config.tokenSecretName, secretRegion: config.secretRegion }, 'token key') }
          : {}),
        realm: config.realm,
      });
    } catch (err) {
      // A broken bundle must still fail closed (503), never pass through.
      const message = `bad bundle configuration (${err && err.name}: ${err && err.message})`;
      defaultHandler = createHandler({ loadCredentials: () => Promise.reject(new Error(message)) });
    }
  }
  return defaultHandler;
}

/** Lambda@Edge viewer-request entry point. */
export async function handler(event) {
  return getDefaultHandler()(event);
}
