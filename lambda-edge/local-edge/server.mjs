// A local stand-in for CloudFront + the internal ALB, so that the HTTP
// checks of a deployment run against the local cluster too.
//
// Two listeners, the gateway and the REST API. Each runs the REAL
// viewer-request handler of ../basic-auth/index.mjs (on the API always, on
// the gateway when it is private), with the credentials read from the
// local cluster's secrets file (or given on stdin) instead of Secrets
// Manager; turns the HTTP request into a CloudFront viewer-request event and
// back (a returned response is sent, a returned
// request is proxied with its uri, querystring and headers); spreads
// proxied requests round-robin over the healthy upstreams like the ALB
// (active health checks, and an upstream that refuses a connection is
// skipped until it passes one again; with none healthy it fails open to all
// of them, as the ALB does; a GET/HEAD/OPTIONS whose connection is reset
// before the answer goes to the next one, standing in for the draining
// ECS does before it stops a task); streams bodies both ways, trailers included;
// and adds the response headers of the distributions' response headers
// policies (handed over by the Go side, constructs/edge/edgespec).
//
// With "forwardHost" on a site, the viewer's Host reaches the upstream (the
// subdomain gateway and the websites distribution key their caches on it).
//
// With "failover" upstreams a site is an origin group, as the gateway
// distribution has with a second region: "upstreams" are the primary
// origin (the first region's ALB, failing open as above, and answering 502
// when none of its targets takes the connection), "failover" the second
// region's ALB; a GET, HEAD or OPTIONS the primary answers with 500, 502,
// 503 or 504, or that fails before an answer, is sent to the failover
// instead, as CloudFront does. Other methods get the primary's answer.
//
// With a "psa" site, the API listener sends every request under /psa/ to
// that site's upstreams (the peers' Pinning Service API layer), as the API
// distribution's /psa/* behaviour sends them to the ALB's PSA listener:
// the same handler, given the request body as CloudFront gives it with
// includeBody (the first 40 KB, flagged when truncated), and the token key
// secret from the secrets file (credentialsFile.tokenSecretVar).
//
// Not modelled: caching, the gateway distribution's query-string and
// header allow-lists, HTTPS, CORS headers, the subdomain gateway's
// viewer-response function (it only turns http:// redirects into https://,
// and there is no HTTPS here).
//
// Usage: node server.mjs < config.json   (see localcluster/localedge)
// It prints one JSON line {"gateway": url, "api": url} on stdout once it
// listens. With "exitOnStdinEnd" it stops when its stdin closes, so it
// dies with the program that started it.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

import { createHandler } from '../basic-auth/index.mjs';
import { PSA_LIMITS, PSA_PREFIX } from '../basic-auth/psa.mjs';

// RFC 9110 §7.6.1 connection-specific fields: never forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'proxy-authenticate', 'proxy-authorization']);

// Errors that mean the upstream did not take the connection, so nothing of
// the request reached it and another one may be tried.
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET']);

// Methods whose request has no body to lose, so that one reset before the
// answer can be sent again to another upstream.
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

// The status codes the origin group fails over on (constructs/edge's
// origin group criteria).
export const FAILOVER_STATUS = new Set([500, 502, 503, 504]);

/** Turns Node's rawHeaders into CloudFront's {name: [{key, value}]}. */
export function toCloudFrontHeaders(rawHeaders) {
  const headers = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i];
    (headers[key.toLowerCase()] ??= []).push({ key, value: rawHeaders[i + 1] });
  }
  return headers;
}

/** Builds the viewer-request event CloudFront would give the function. */
export function toViewerRequestEvent(req) {
  const url = req.url || '/';
  const q = url.indexOf('?');
  return {
    Records: [{
      cf: {
        config: { eventType: 'viewer-request', distributionId: 'LOCALEDGE', requestId: String(Date.now()) },
        request: {
          clientIp: req.socket.remoteAddress,
          method: req.method,
          uri: q < 0 ? url : url.slice(0, q),
          querystring: q < 0 ? '' : url.slice(q + 1),
          headers: toCloudFrontHeaders(req.rawHeaders),
        },
      },
    }],
  };
}

// Applies a response headers policy to name -> {name, values}.
function applyPolicy(headers, policy) {
  for (const { name, value, override } of policy) {
    const k = name.toLowerCase();
    if (override || !headers.has(k)) {
      headers.set(k, { name, values: [value] });
    }
  }
}

function collect(pairs) {
  const headers = new Map();
  for (const [name, value] of pairs) {
    const k = name.toLowerCase();
    if (HOP_BY_HOP.has(k)) {
      continue;
    }
    if (!headers.has(k)) {
      headers.set(k, { name, values: [] });
    }
    headers.get(k).values.push(value);
  }
  return headers;
}

function pairsOf(rawHeaders) {
  const out = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    out.push([rawHeaders[i], rawHeaders[i + 1]]);
  }
  return out;
}

function flat(headers) {
  const out = {};
  for (const { name, values } of headers.values()) {
    out[name] = values.length === 1 ? values[0] : values;
  }
  return out;
}

class Site {
  constructor(name, cfg, handler, log) {
    this.name = name;
    this.handler = handler;
    this.policy = cfg.headers || [];
    this.healthPath = cfg.healthPath;
    this.healthyStatus = cfg.healthyStatus;
    this.forwardHost = cfg.forwardHost === true;
    this.includeBody = cfg.includeBody === true;
    const pool = (urls) => ({ upstreams: (urls || []).map((u) => ({ url: new URL(u), healthy: true })), next: 0 });
    this.primary = pool(cfg.upstreams);
    this.failover = pool(cfg.failover);
    this.upstreams = [...this.primary.upstreams, ...this.failover.upstreams];
    this.log = log;
    this.agent = new http.Agent({ keepAlive: false });
  }

  setHealth(upstream, healthy, why) {
    if (upstream.healthy !== healthy) {
      upstream.healthy = healthy;
      this.log(`${this.name}: ${upstream.url.origin} is ${healthy ? 'healthy' : 'unhealthy'} (${why})`);
    }
  }

  // The upstreams of a pool (one ALB) to try, in order: the healthy ones
  // from the round-robin position; when none is healthy, every one (the
  // ALB fails open).
  candidates(from = this.primary) {
    const healthy = from.upstreams.filter((u) => u.healthy);
    const pool = healthy.length > 0 ? healthy : from.upstreams;
    const start = from.next++ % pool.length;
    return [...pool.slice(start), ...pool.slice(0, start)];
  }

  // The origin group's second origin for a request, if it may fail over.
  fallbackFor(request) {
    return this.failover.upstreams.length > 0 && REPLAYABLE.has(request.method) ? this.failover : null;
  }

  async checkOne(upstream, timeoutMs) {
    await new Promise((resolve) => {
      const r = http.get(new URL(this.healthPath, upstream.url), { agent: this.agent, timeout: timeoutMs }, (res) => {
        res.resume();
        this.setHealth(upstream, res.statusCode === this.healthyStatus, `health check answered ${res.statusCode}`);
        resolve();
      });
      r.on('timeout', () => r.destroy(new Error('timed out')));
      r.on('error', (err) => {
        this.setHealth(upstream, false, `health check: ${err.code || err.message}`);
        resolve();
      });
    });
  }

  checkAll(timeoutMs) {
    return Promise.all(this.upstreams.map((u) => this.checkOne(u, timeoutMs)));
  }

  send(res, status, statusMessage, headers, body) {
    applyPolicy(headers, this.policy);
    res.writeHead(status, statusMessage, flat(headers));
    res.end(body);
  }

  // A response the viewer-request function generated.
  sendGenerated(res, r) {
    const pairs = [];
    for (const entries of Object.values(r.headers || {})) {
      for (const { key, value } of entries) {
        pairs.push([key, value]);
      }
    }
    const body = r.body === undefined ? '' : r.bodyEncoding === 'base64' ? Buffer.from(r.body, 'base64') : r.body;
    this.send(res, Number(r.status), r.statusDescription, collect(pairs), body);
  }

  // Reads the whole body (a PSA request is small), and gives the function
  // what CloudFront would: the first PSA_LIMITS.bodyBytes, base64.
  async readBody(req, request) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > 4 * PSA_LIMITS.bodyBytes) {
        throw new Error('request body too large for the local edge');
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    request.body = {
      inputTruncated: body.length > PSA_LIMITS.bodyBytes,
      action: 'read-only',
      encoding: 'base64',
      data: body.subarray(0, PSA_LIMITS.bodyBytes).toString('base64'),
    };
    return body;
  }

  async serve(req, res) {
    const event = toViewerRequestEvent(req);
    let request = event.Records[0].cf.request;
    const body = this.includeBody ? await this.readBody(req, request) : null;
    if (this.handler) {
      let result;
      try {
        result = await this.handler(event);
      } catch (err) {
        // CloudFront answers a failed function with 503.
        this.log(`${this.name}: viewer-request function failed: ${err && err.message}`);
        this.send(res, 503, 'Service Unavailable', new Map(), 'viewer-request function failed\n');
        return;
      }
      if (result && result.status !== undefined) {
        this.sendGenerated(res, result);
        return;
      }
      request = result;
    }
    this.proxy(req, res, request, this.candidates(), this.fallbackFor(request), body);
  }

  // Sends the request to the first of candidates that takes it; fallback
  // is the origin group's failover pool, while it may still be used; body
  // is the request body already read (includeBody), or null to stream it
  // from req.
  proxy(req, res, request, candidates, fallback = null, body = null) {
    const failOver = (why) => {
      this.log(`${this.name}: ${request.method} ${request.uri}: ${why}; failing over`);
      this.proxy(req, res, request, this.candidates(fallback), null, body);
    };
    const upstream = candidates.shift();
    if (!upstream) {
      if (fallback) {
        failOver('no upstream of the primary origin accepted the connection');
        return;
      }
      this.send(res, 502, 'Bad Gateway', new Map([['content-type', { name: 'Content-Type', values: ['text/plain'] }]]), 'no upstream accepted the connection\n');
      return;
    }
    const pairs = [];
    for (const entries of Object.values(request.headers || {})) {
      for (const { key, value } of entries) {
        if (key.toLowerCase() !== 'host') {
          pairs.push([key, value]);
        }
      }
    }
    const headers = collect(pairs);
    // CloudFront forwards the viewer's Host only where it is in the cache
    // key (the subdomain gateway, the websites); X-Forwarded-Host, which
    // kubo would prefer to Host, is in no allow list and never arrives.
    const viewerHost = request.headers && request.headers.host && request.headers.host[0];
    if (this.forwardHost && viewerHost) {
      headers.delete('x-forwarded-host');
      headers.set('host', { name: 'Host', values: [viewerHost.value] });
    } else {
      headers.set('host', { name: 'Host', values: [upstream.url.host] });
    }
    const forwarded = headers.get('x-forwarded-for');
    headers.set('x-forwarded-for', { name: 'X-Forwarded-For', values: [[...(forwarded ? forwarded.values : []), req.socket.remoteAddress].join(', ')] });
    headers.set('x-forwarded-proto', { name: 'X-Forwarded-Proto', values: ['http'] });

    const path = request.uri + (request.querystring ? `?${request.querystring}` : '');
    const preq = http.request({
      host: upstream.url.hostname,
      port: upstream.url.port,
      method: request.method,
      path,
      headers: flat(headers),
      agent: this.agent,
    });
    let started = false;
    preq.on('socket', (socket) => {
      const start = () => {
        started = true;
        if (body) {
          preq.end(body);
        } else {
          req.pipe(preq);
        }
      };
      if (socket.connecting) {
        socket.once('connect', start);
      } else {
        start();
      }
    });
    preq.on('response', (pres) => {
      if (fallback && FAILOVER_STATUS.has(pres.statusCode)) {
        pres.resume();
        failOver(`${upstream.url.origin} answered ${pres.statusCode}`);
        return;
      }
      const out = collect(pairsOf(pres.rawHeaders));
      // Trailers need chunked framing, and Node will not write a Trailer
      // header without it: ipfs-cluster declares X-Stream-Error on every
      // stream, an empty one answered 204 with no body (and no framing).
      if (!/\bchunked\b/i.test(pres.headers['transfer-encoding'] || '')) {
        out.delete('trailer');
      }
      applyPolicy(out, this.policy);
      res.writeHead(pres.statusCode, pres.statusMessage, flat(out));
      pres.pipe(res, { end: false });
      pres.on('end', () => {
        if (pres.rawTrailers.length > 0) {
          res.addTrailers(pairsOf(pres.rawTrailers));
        }
        res.end();
      });
      pres.on('error', (err) => res.destroy(err));
    });
    preq.on('error', (err) => {
      if (!started && REFUSED.has(err.code)) {
        // Nothing of the request left: mark it down and try the next one.
        this.setHealth(upstream, false, `connection: ${err.code}`);
        this.proxy(req, res, request, candidates, fallback, body);
        return;
      }
      if (!res.headersSent && err.code === 'ECONNRESET' && REPLAYABLE.has(request.method)) {
        // A peer stopping resets the connections it holds. ECS deregisters
        // a task and drains it before stopping it, so the ALB never sends a
        // request into that; here nothing deregisters a stopping peer, so
        // a bodiless request is sent again elsewhere instead. A reset on a
        // kept-alive connection may just be an idle close: not marked down.
        if (!preq.reusedSocket) {
          this.setHealth(upstream, false, `connection: ${err.code} before an answer`);
        }
        this.proxy(req, res, request, candidates, fallback, body);
        return;
      }
      this.log(`${this.name}: ${request.method} ${request.uri} to ${upstream.url.origin}: ${err.code || err.message}`);
      if (!res.headersSent && fallback) {
        failOver(`the primary origin failed (${err.code || err.message})`);
        return;
      }
      if (!res.headersSent) {
        this.send(res, 502, 'Bad Gateway', new Map(), 'upstream failed\n');
      } else {
        res.destroy(err);
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        preq.destroy();
      }
    });
  }
}

function listen(server, address) {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

/**
 * Where the handler reads the credentials from: the local stand-in of the
 * Secrets Manager secret, a KEY=value file (config.credentialsFile: path and
 * the two variable names), read again whenever the handler's cache expires,
 * as the deployed function reads the secret again; or fixed values
 * (config.credentials). Either way the handler validates the shape.
 */
export function credentialsLoader(config) {
  const file = config.credentialsFile;
  if (file) {
    return async () => {
      const values = {};
      for (const line of (await readFile(file.path, 'utf8')).split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0 && !line.trimStart().startsWith('#')) values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
      }
      return { username: values[file.usernameVar], password: values[file.passwordVar] };
    };
  }
  const { username, password } = config.credentials || {};
  return async () => ({ username, password });
}

/**
 * Where the handler reads the PSA token key secret from: the variable
 * config.credentialsFile.tokenSecretVar of the secrets file (its value is
 * the secret's JSON, as Secrets Manager holds it), read again whenever the
 * cache expires; or a fixed config.tokenSecret. Neither: the handler
 * answers /psa with 503, as the deployed one does without its secret.
 */
export function tokenSecretLoader(config) {
  const file = config.credentialsFile;
  if (file && file.tokenSecretVar) {
    return async () => {
      for (const line of (await readFile(file.path, 'utf8')).split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0 && line.slice(0, eq).trim() === file.tokenSecretVar) {
          return JSON.parse(line.slice(eq + 1));
        }
      }
      throw new Error(`${file.tokenSecretVar} is not in the secrets file`);
    };
  }
  if (config.tokenSecret) {
    return async () => config.tokenSecret;
  }
  return undefined;
}

/**
 * Starts the two listeners. options.viewerRequest replaces the real
 * handler (tests); options.log receives one line per event.
 */
export async function startEdge(config, options = {}) {
  const log = options.log || ((m) => process.stderr.write(`localedge: ${m}\n`));
  let handler = options.viewerRequest;
  if (!handler) {
    const loadTokenSecret = tokenSecretLoader(config);
    handler = createHandler({
      loadCredentials: credentialsLoader(config),
      ...(loadTokenSecret ? { loadTokenSecret } : {}),
      // Unset: the deployed function's cache time, so a rotation behaves
      // here as it does at the edge.
      ...(config.credentialsCacheTtlMs > 0 ? { cacheTtlMs: config.credentialsCacheTtlMs } : {}),
      realm: config.realm,
      log,
    });
  }
  const sites = {
    gateway: new Site('gateway', config.gateway, config.privateGateway ? handler : null, log),
    api: new Site('api', config.api, handler, log),
  };
  if (config.psa) {
    sites.psa = new Site('psa', { ...config.psa, includeBody: true }, handler, log);
  }
  // The sites each listener serves, by path: the API distribution's
  // /psa/* behaviour goes to the PSA site.
  const route = {
    gateway: () => sites.gateway,
    api: (req) => (sites.psa && (req.url || '').startsWith(`${PSA_PREFIX}/`) ? sites.psa : sites.api),
  };
  const intervalMs = config.healthIntervalMs || 2000;
  const timeoutMs = config.healthTimeoutMs || Math.min(2000, intervalMs);
  // The ALB routes to a target only after it passed a check.
  await Promise.all(Object.values(sites).map((s) => s.checkAll(timeoutMs)));
  const timers = Object.values(sites).map((s) => setInterval(() => s.checkAll(timeoutMs), intervalMs));

  const servers = {};
  const urls = {};
  try {
    for (const name of ['gateway', 'api']) {
      servers[name] = http.createServer((req, res) => {
        route[name](req).serve(req, res).catch((err) => {
          log(`${name}: ${err && err.stack}`);
          res.destroy();
        });
      });
      urls[name] = await listen(servers[name], config[name].listen);
    }
  } catch (err) {
    timers.forEach(clearInterval);
    Object.values(servers).forEach((s) => s.close());
    throw err;
  }
  return {
    urls,
    sites,
    close() {
      timers.forEach(clearInterval);
      return Promise.all(Object.values(servers).map((s) => new Promise((resolve) => {
        s.close(resolve);
        s.closeAllConnections();
      })));
    },
  };
}

async function main() {
  // The config arrives as the first line of stdin (it carries the
  // credentials: never an argument, never printed).
  let buffered = '';
  let config;
  let edge;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    if (edge) await edge.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', async (chunk) => {
    if (config) return;
    buffered += chunk;
    const nl = buffered.indexOf('\n');
    if (nl < 0) return;
    try {
      config = JSON.parse(buffered.slice(0, nl));
    } catch {
      process.stderr.write('localedge: the first line of stdin is not a JSON config\n');
      process.exit(2);
    }
    buffered = '';
    try {
      edge = await startEdge(config);
    } catch (err) {
      process.stderr.write(`localedge: ${err && err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify(edge.urls)}\n`);
  });
  process.stdin.on('end', () => {
    if (!config) {
      process.stderr.write('localedge: stdin closed before a config arrived\n');
      process.exit(2);
    }
    // Attached: the parent closed our stdin (it stopped, or died).
    if (config.exitOnStdinEnd) stop(0);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
