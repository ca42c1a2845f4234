// Lambda@Edge viewer-request function: HTTP Basic authentication in front of
// the IPFS Cluster REST API (and the gateway when it is private).
//
// The credentials live in the REST API credentials secret in Secrets Manager
// ({"username": "...", "password": "..."}), replicated to us-east-1. The
// bundle carries only the secret's NAME, in the sibling config.json that the
// CDK construct writes into the asset at synth time: Lambda@Edge forbids
// environment variables.
//
// On success the request is returned unchanged: the Authorization header
// still reaches the origin, where the cluster checks the same credentials
// again (defence in depth). Every failure is answered here and never passed
// through: 401 for missing or bad credentials, 503 when the credentials
// cannot be loaded (fail closed). Neither the secret nor the Authorization
// header is ever logged.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

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

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('credentials load timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Builds a viewer-request handler.
 *
 * @param {object} options
 * @param {() => Promise<{username: string, password: string}>} options.loadCredentials
 *   where the expected credentials come from (tests inject their own).
 * @param {number} [options.cacheTtlMs] how long loaded credentials are reused.
 * @param {() => number} [options.now] clock in milliseconds (tests inject their own).
 * @param {number} [options.loadTimeoutMs] bound on one load; a slower load fails closed.
 * @param {string} [options.realm] realm announced in WWW-Authenticate.
 * @param {(message: string) => void} [options.log] receives error summaries, never secrets.
 */
export function createHandler({
  loadCredentials,
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

  let cached = null; // { credentials, expiresAt }
  let inflight = null; // single-flight promise of a load in progress

  async function credentials() {
    if (cached && now() < cached.expiresAt) {
      return cached.credentials;
    }
    if (!inflight) {
      inflight = (async () => {
        try {
          const loaded = await withTimeout(Promise.resolve().then(loadCredentials), loadTimeoutMs);
          if (!validCredentials(loaded)) {
            throw new Error('credentials secret is not {"username","password"} with non-empty strings');
          }
          const frozen = Object.freeze({ username: loaded.username, password: loaded.password });
          cached = { credentials: frozen, expiresAt: now() + cacheTtlMs };
          return frozen;
        } finally {
          inflight = null;
        }
      })();
    }
    return inflight;
  }

  return async function handler(event) {
    const request = event && event.Records && event.Records[0] && event.Records[0].cf
      ? event.Records[0].cf.request
      : undefined;
    if (!request) {
      return unauthorized(realm);
    }

    // Malformed or missing credentials are refused before the secret is
    // touched, so anonymous traffic never causes Secrets Manager calls.
    const supplied = parseBasicAuthorization(authorizationValue(request));
    if (!supplied) {
      return unauthorized(realm);
    }

    let expected;
    try {
      expected = await credentials();
    } catch (err) {
      // Error name and message only: loaders never put secret values there.
      log(`basic-auth: cannot load credentials (${err && err.name}: ${err && err.message}); failing closed`);
      return unavailable();
    }

    // Both comparisons always run (bitwise &, no short-circuit).
    const userOk = safeEqual(supplied.username, expected.username);
    const passOk = safeEqual(supplied.password, expected.password);
    if ((userOk & passOk) !== 1) {
      return unauthorized(realm);
    }
    return request;
  };
}

/** Reads config.json, written next to this file by the CDK construct. */
export function readConfig(url = new URL('./config.json', import.meta.url)) {
  const config = JSON.parse(readFileSync(url, 'utf8'));
  if (typeof config.secretName !== 'string' || config.secretName.length === 0) {
    throw new Error('config.json: secretName missing');
  }
  return {
    secretName: config.secretName,
    secretRegion: typeof config.secretRegion === 'string' && config.secretRegion ? config.secretRegion : 'us-east-1',
    realm: typeof config.realm === 'string' && config.realm ? config.realm : DEFAULT_REALM,
  };
}

/**
 * Loader that reads the secret from Secrets Manager. The SDK ships with the
 * Lambda Node.js runtime, so it is imported dynamically and not bundled.
 */
export function secretsManagerLoader({ secretName, secretRegion }) {
  let client;
  return async function loadCredentials() {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    client ??= new SecretsManagerClient({ region: secretRegion, maxAttempts: 2 });
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    if (typeof out.SecretString !== 'string') {
      throw new Error('credentials secret has no SecretString');
    }
    let parsed;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      // Never include the secret text (or the parser's excerpt of it).
      throw new Error('credentials secret is not JSON');
    }
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
