// Tests for the local edge (server.mjs): in-process, against small HTTP
// upstreams on loopback (port 0). node:test, no npm dependencies.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startEdge, toCloudFrontHeaders } from './server.mjs';

const HOST = '127.0.0.1';
const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
const USER = 'admin';
const PASS = 's3cret-for-tests';
const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
const POLICY = [
  { name: 'X-Frame-Options', value: 'DENY', override: true },
  { name: 'Cache-Control', value: 'no-store', override: false },
];

const closers = [];
after(() => Promise.all(closers.map((c) => c())));

// An upstream that records what reached it and answers with its index.
async function upstream(index, { health = 204, handler } = {}) {
  const seen = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(upstream.health[index] ?? health).end();
      return;
    }
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    if (handler) {
      handler(req, res);
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'x-frame-options': 'ALLOWALL', 'cache-control': 'max-age=5' }).end(String(index)));
  });
  await new Promise((r) => server.listen(0, HOST, r));
  closers.push(() => new Promise((r) => { server.close(r); server.closeAllConnections(); }));
  return { url: `http://${HOST}:${server.address().port}`, seen, server };
}
upstream.health = {};

async function edge(apiUpstreams, options = {}, extra = {}) {
  const e = await startEdge({
    gateway: { listen: `${HOST}:0`, upstreams: extra.gatewayUpstreams || apiUpstreams, failover: extra.gatewayFailover, healthPath: '/health', healthyStatus: 204, headers: POLICY, forwardHost: extra.forwardHost },
    api: { listen: `${HOST}:0`, upstreams: apiUpstreams, healthPath: '/health', healthyStatus: 204, headers: POLICY },
    credentials: extra.credentialsFile ? undefined : { username: USER, password: PASS },
    credentialsFile: extra.credentialsFile,
    credentialsCacheTtlMs: extra.credentialsCacheTtlMs,
    privateGateway: extra.privateGateway ?? false,
    healthIntervalMs: extra.healthIntervalMs ?? 60000,
  }, { log: () => {}, ...options });
  closers.push(() => e.close());
  return e;
}

function request(base, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('CloudFront events', () => {
  test('headers become lower-case keys with {key, value} arrays, repeats kept', () => {
    assert.deepEqual(toCloudFrontHeaders(['Host', 'a', 'X-Thing', '1', 'x-thing', '2']), {
      host: [{ key: 'Host', value: 'a' }],
      'x-thing': [{ key: 'X-Thing', value: '1' }, { key: 'x-thing', value: '2' }],
    });
  });
  test('the function sees method, raw uri, raw querystring and headers', async () => {
    const up = await upstream(0);
    let seen;
    const e = await edge([up.url], { viewerRequest: async (event) => { seen = event.Records[0].cf; return seen.request; } });
    await request(e.urls.api, 'POST', '/pins/%70ath?name=a+b&x=%zz', { headers: { 'X-Test': 'v' } });
    assert.equal(seen.config.eventType, 'viewer-request');
    assert.equal(seen.request.method, 'POST');
    assert.equal(seen.request.uri, '/pins/%70ath');
    assert.equal(seen.request.querystring, 'name=a+b&x=%zz');
    assert.deepEqual(seen.request.headers['x-test'], [{ key: 'X-Test', value: 'v' }]);
  });
  test('a returned request is proxied with its modified uri, querystring and headers', async () => {
    const up = await upstream(0);
    const e = await edge([up.url], {
      viewerRequest: async (event) => {
        const r = event.Records[0].cf.request;
        r.uri = '/rewritten';
        r.querystring = 'a=1';
        r.headers['x-added'] = [{ key: 'X-Added', value: 'yes' }];
        return r;
      },
    });
    await request(e.urls.api, 'GET', '/original?b=2');
    assert.equal(up.seen[0].url, '/rewritten?a=1');
    assert.equal(up.seen[0].headers['x-added'], 'yes');
  });
  test('a returned response is sent as is (base64 bodies decoded) and never proxied', async () => {
    const up = await upstream(0);
    const e = await edge([up.url], {
      viewerRequest: async () => ({ status: '418', statusDescription: 'Teapot', headers: { 'x-r': [{ key: 'X-R', value: '1' }] }, body: Buffer.from('hi').toString('base64'), bodyEncoding: 'base64' }),
    });
    const res = await request(e.urls.api, 'GET', '/id');
    assert.equal(res.status, 418);
    assert.equal(res.body, 'hi');
    assert.equal(res.headers['x-r'], '1');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(up.seen.length, 0);
  });
  test('a failing function gets 503, as from CloudFront', async () => {
    const up = await upstream(0);
    const e = await edge([up.url], { viewerRequest: async () => { throw new Error('boom'); } });
    assert.equal((await request(e.urls.api, 'GET', '/id')).status, 503);
    assert.equal(up.seen.length, 0);
  });
});

describe('Host', () => {
  test("the gateway gets the upstream's Host unless it forwards the viewer's, as a subdomain gateway does", async () => {
    const up = await upstream(0);
    const viewer = `${CID}.ipfs.localhost:8080`;
    const plain = await edge([up.url]);
    await request(plain.urls.gateway, 'GET', '/', { headers: { Host: viewer, 'X-Forwarded-Host': 'evil.test' } });
    assert.equal(up.seen[0].headers.host, up.url.slice('http://'.length));

    const forwarding = await edge([up.url], {}, { forwardHost: true });
    await request(forwarding.urls.gateway, 'GET', '/', { headers: { Host: viewer, 'X-Forwarded-Host': 'evil.test' } });
    assert.equal(up.seen[1].headers.host, viewer);
    // kubo prefers X-Forwarded-Host to Host: CloudFront never forwards it.
    assert.equal(up.seen[1].headers['x-forwarded-host'], undefined);
    // The API distribution never forwards Host.
    await request(forwarding.urls.api, 'GET', '/health2', { headers: { Host: viewer, Authorization: AUTH } });
    assert.equal(up.seen[2].headers.host, up.url.slice('http://'.length));
  });
});

describe('the real viewer-request handler', () => {
  test('the API needs credentials; a bad pin request gets the edge 400; a good one passes', async () => {
    const up = await upstream(0);
    const e = await edge([up.url]);
    assert.equal((await request(e.urls.api, 'GET', '/id')).status, 401);
    const bad = await request(e.urls.api, 'DELETE', `/pins/${CID}?replication-min=abc`, { headers: { Authorization: AUTH } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).parameter, 'replication-min');
    assert.equal(up.seen.length, 0);
    const good = await request(e.urls.api, 'DELETE', `/pins/${CID}`, { headers: { Authorization: AUTH } });
    assert.equal(good.status, 200);
    assert.equal(up.seen[0].headers.authorization, AUTH, 'the cluster checks the credentials again');
  });
  test('the gateway is open unless private', async () => {
    const up = await upstream(0);
    const open = await edge([up.url]);
    assert.equal((await request(open.urls.gateway, 'GET', `/ipfs/${CID}`)).status, 200);
    const closed = await edge([up.url], {}, { privateGateway: true });
    assert.equal((await request(closed.urls.gateway, 'GET', `/ipfs/${CID}`)).status, 401);
    assert.equal((await request(closed.urls.gateway, 'GET', `/ipfs/${CID}`, { headers: { Authorization: AUTH } })).status, 200);
  });
});

describe('credentials from the secrets file', () => {
  test('read again once the cache time has passed, as the deployed function re-reads its secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'localedge-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'secrets.env');
    const write = (password) => writeFile(path, `# comment\nRESTAPI_USERNAME=${USER}\nRESTAPI_PASSWORD=${password}\n`);
    await write(PASS);
    const up = await upstream(0);
    const e = await edge([up.url], {}, {
      credentialsFile: { path, usernameVar: 'RESTAPI_USERNAME', passwordVar: 'RESTAPI_PASSWORD' },
      credentialsCacheTtlMs: 300,
    });
    const basic = (password) => ({ headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:${password}`).toString('base64') } });
    assert.equal((await request(e.urls.api, 'GET', '/id', basic(PASS))).status, 200);
    await write('rotated-password');
    // Within the cache time the old credentials still pass, the new do not.
    assert.equal((await request(e.urls.api, 'GET', '/id', basic(PASS))).status, 200);
    assert.equal((await request(e.urls.api, 'GET', '/id', basic('rotated-password'))).status, 401);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await request(e.urls.api, 'GET', '/id', basic('rotated-password'))).status, 200);
    assert.equal((await request(e.urls.api, 'GET', '/id', basic(PASS))).status, 401);
  });
  test('a file without both variables fails closed (503), as a malformed secret does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'localedge-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'secrets.env');
    await writeFile(path, `RESTAPI_USERNAME=${USER}\n`);
    const up = await upstream(0);
    const e = await edge([up.url], {}, { credentialsFile: { path, usernameVar: 'RESTAPI_USERNAME', passwordVar: 'RESTAPI_PASSWORD' } });
    assert.equal((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).status, 503);
    assert.equal(up.seen.length, 0);
  });
});

describe('load balancing', () => {
  test('round-robin over the healthy upstreams', async () => {
    const ups = await Promise.all([0, 1, 2].map((i) => upstream(i)));
    const e = await edge(ups.map((u) => u.url));
    const bodies = [];
    for (let i = 0; i < 9; i++) {
      bodies.push((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).body);
    }
    assert.deepEqual(bodies, ['0', '1', '2', '0', '1', '2', '0', '1', '2']);
  });
  test('an upstream failing its health check is skipped, and used again once it passes', async () => {
    const ups = await Promise.all([10, 11].map((i) => upstream(i)));
    upstream.health[11] = 500;
    const e = await edge(ups.map((u) => u.url), {}, { healthIntervalMs: 100 });
    for (let i = 0; i < 4; i++) {
      assert.equal((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).body, '10');
    }
    upstream.health[11] = 204;
    await new Promise((r) => setTimeout(r, 400));
    const bodies = new Set();
    for (let i = 0; i < 4; i++) {
      bodies.add((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).body);
    }
    assert.deepEqual([...bodies].sort(), ['10', '11']);
  });
  test('a refused connection is retried on another upstream and marks it down', async () => {
    const live = await upstream(20);
    const dead = await upstream(21);
    const e = await edge([dead.url, live.url]);
    await new Promise((r) => { dead.server.close(r); dead.server.closeAllConnections(); });
    for (let i = 0; i < 4; i++) {
      const res = await request(e.urls.api, 'POST', `/pins/${CID}`, { headers: { Authorization: AUTH }, body: 'x' });
      assert.equal(res.status, 200);
      assert.equal(res.body, '20');
    }
    assert.equal(e.sites.api.upstreams[0].healthy, false);
  });
  test('a GET reset before its answer, as by a stopping peer, is sent to the next upstream; a POST is not', async () => {
    const reset = (req) => { req.socket.destroy(); };
    const stopping = await upstream(24, { handler: reset });
    const live = await upstream(25);
    const e = await edge([stopping.url, live.url]);
    const res = await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } });
    assert.equal(res.status, 200);
    assert.equal(res.body, '25');
    assert.equal(stopping.seen.length, 1);
    assert.equal(e.sites.api.upstreams[0].healthy, false);

    const e2 = await edge([stopping.url, live.url]);
    const post = await request(e2.urls.api, 'POST', `/pins/${CID}`, { headers: { Authorization: AUTH }, body: 'x' });
    assert.equal(post.status, 502);
    assert.equal(stopping.seen.length, 2);
  });
  test('with no healthy upstream it fails open, and 502 when none answers', async () => {
    const up = await upstream(30, { health: 500 });
    const e = await edge([up.url]);
    assert.equal((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).body, '30');
    await new Promise((r) => { up.server.close(r); up.server.closeAllConnections(); });
    assert.equal((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).status, 502);
  });
});

// The gateway distribution's origin group with a second region: the first
// region's ALB, then the second's.
describe('origin group failover', () => {
  const status = (code) => (req, res) => { req.resume(); res.writeHead(code, { 'content-type': 'text/plain' }).end(`status ${code}`); };
  const close = (u) => new Promise((r) => { u.server.close(r); u.server.closeAllConnections(); });

  test('a GET, HEAD or OPTIONS answered 500, 502, 503 or 504 by the primary goes to the failover; a POST does not', async () => {
    for (const code of [500, 502, 503, 504]) {
      const primary = await upstream(40, { handler: status(code) });
      const second = await upstream(41);
      const e = await edge([primary.url], {}, { gatewayUpstreams: [primary.url], gatewayFailover: [second.url] });
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const res = await request(e.urls.gateway, method, `/ipfs/${CID}`);
        assert.equal(res.status, 200, `${method} after ${code}`);
        assert.equal(res.body, method === 'HEAD' ? '' : '41');
        assert.equal(res.headers['x-frame-options'], 'DENY', 'the failover answer gets the policy headers too');
      }
      assert.equal(primary.seen.length, 3, 'the primary was asked first');
      const post = await request(e.urls.gateway, 'POST', `/ipfs/${CID}`, { body: 'x' });
      assert.equal(post.status, code);
      assert.equal(second.seen.length, 3);
    }
  });
  test('other answers of the primary are final, and the failover is not asked', async () => {
    const primary = await upstream(42, { handler: status(404) });
    const ok = await upstream(43);
    const second = await upstream(44);
    const e = await edge([primary.url], {}, { gatewayUpstreams: [primary.url], gatewayFailover: [second.url] });
    assert.equal((await request(e.urls.gateway, 'GET', `/ipfs/${CID}`)).status, 404);
    const e2 = await edge([ok.url], {}, { gatewayUpstreams: [ok.url], gatewayFailover: [second.url] });
    assert.equal((await request(e2.urls.gateway, 'GET', `/ipfs/${CID}`)).body, '43');
    assert.equal(second.seen.length, 0);
  });
  test('with every primary upstream down, the primary fails open to all of them, then the failover answers', async () => {
    const primaries = await Promise.all([45, 46].map((i) => upstream(i)));
    const seconds = await Promise.all([47, 48].map((i) => upstream(i)));
    const e = await edge([primaries[0].url], {}, { gatewayUpstreams: primaries.map((u) => u.url), gatewayFailover: seconds.map((u) => u.url) });
    assert.equal((await request(e.urls.gateway, 'GET', `/ipfs/${CID}`)).body, '45');
    await Promise.all(primaries.map(close));
    const bodies = new Set();
    for (let i = 0; i < 4; i++) {
      const res = await request(e.urls.gateway, 'GET', `/ipfs/${CID}`);
      assert.equal(res.status, 200);
      bodies.add(res.body);
    }
    assert.deepEqual([...bodies].sort(), ['47', '48'], 'round-robin over the failover pool');
    assert.deepEqual(e.sites.gateway.primary.upstreams.map((u) => u.healthy), [false, false]);
    // The REST API has no origin group: writes go to the first region.
    assert.equal((await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).status, 502);
  });
  test('502 when neither origin takes the request', async () => {
    const primary = await upstream(49);
    const second = await upstream(50);
    const e = await edge([primary.url], {}, { gatewayUpstreams: [primary.url], gatewayFailover: [second.url] });
    await Promise.all([primary, second].map(close));
    assert.equal((await request(e.urls.gateway, 'GET', `/ipfs/${CID}`)).status, 502);
  });
});

describe('responses and bodies', () => {
  test('policy headers: override replaces the origin value, the others fill in only', async () => {
    const up = await upstream(0);
    const e = await edge([up.url]);
    const res = await request(e.urls.api, 'GET', '/id', { headers: { Authorization: AUTH } });
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['cache-control'], 'max-age=5');
    const refused = await request(e.urls.api, 'GET', '/id');
    assert.equal(refused.headers['cache-control'], 'no-store');
    assert.equal(refused.headers['x-frame-options'], 'DENY');
  });
  test('request and response bodies stream through, trailers included', async () => {
    const up = await upstream(0, {
      handler: (req, res) => {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c) => { h.update(c); n += c.length; });
        req.on('end', () => {
          res.writeHead(200, { Trailer: 'X-Stream-Error', 'content-type': 'application/json' });
          res.write(JSON.stringify({ bytes: n, sha256: h.digest('hex') }));
          res.addTrailers({ 'X-Stream-Error': 'none really' });
          res.end();
        });
      },
    });
    const e = await edge([up.url]);
    const data = Buffer.alloc(8 * 1024 * 1024, 7);
    const res = await new Promise((resolve, reject) => {
      const r = http.request(`${e.urls.api}/add?stream-channels=true`, { method: 'POST', agent: false, headers: { Authorization: AUTH, 'Transfer-Encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ body, trailers: res.trailers }));
      });
      r.on('error', reject);
      for (let i = 0; i < data.length; i += 65536) r.write(data.subarray(i, i + 65536));
      r.end();
    });
    assert.deepEqual(JSON.parse(res.body), { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    assert.equal(res.trailers['x-stream-error'], 'none really');
  });
  test('a bodiless answer that declares a trailer passes, and the edge lives on', async () => {
    // ipfs-cluster v1.1.6 answers a stream with nothing in it (say
    // `status --filter error` on a healthy cluster) 204 with
    // "Trailer: X-Stream-Error"; Node's server cannot write that header
    // without chunked framing, so it is written raw here.
    const up = await upstream(0, {
      handler: (req, res) => {
        req.resume();
        req.on('end', () => res.socket.end('HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\nTrailer: X-Stream-Error\r\n\r\n'));
      },
    });
    const e = await edge([up.url]);
    const empty = await request(e.urls.api, 'GET', '/pins?filter=error', { headers: { Authorization: AUTH } });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, '');
    const next = await request(e.urls.api, 'GET', '/pins?filter=error', { headers: { Authorization: AUTH } });
    assert.equal(next.status, 204);
  });
});

describe('as a program', () => {
  test('reads its config from stdin, prints its URLs, exits when stdin closes', async () => {
    const up = await upstream(40);
    const child = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'pipe'] });
    const site = { listen: `${HOST}:0`, upstreams: [up.url], healthPath: '/health', healthyStatus: 204, headers: POLICY };
    child.stdin.write(JSON.stringify({ gateway: site, api: site, credentials: { username: USER, password: PASS }, exitOnStdinEnd: true }) + '\n');
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += c; });
    const line = await new Promise((resolve) => child.stdout.once('data', (c) => resolve(String(c))));
    const urls = JSON.parse(line);
    assert.equal((await request(urls.api, 'GET', '/id', { headers: { Authorization: AUTH } })).body, '40');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.stdin.end();
    assert.equal(await exited, 0);
    assert.ok(!stderr.includes(PASS) && !line.includes(PASS), 'the password is never printed');
  });
});

describe('the Pinning Service API (/psa/*)', () => {
  const TOKEN_SECRET = { key: 'T'.repeat(64), revoked: {} };

  // A PSA layer stand-in: 204 on /psa/health, 401 without the cluster's
  // Basic credentials (the contract of the real one), else echoes what it
  // got.
  async function psaUpstream() {
    const seen = [];
    const server = http.createServer((req, res) => {
      if (req.url === '/psa/health') {
        res.writeHead(204).end();
        return;
      }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.headers.authorization !== AUTH) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"reason":"UNAUTHORIZED"}}');
          return;
        }
        res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ client: req.headers['x-psa-client'], body }));
      });
    });
    await new Promise((r) => server.listen(0, HOST, r));
    closers.push(() => new Promise((r) => { server.close(r); server.closeAllConnections(); }));
    return { url: `http://${HOST}:${server.address().port}`, seen };
  }

  async function psaEdge(extra = {}) {
    const api = await upstream(0);
    const psa = await psaUpstream();
    const e = await startEdge({
      gateway: { listen: `${HOST}:0`, upstreams: [api.url], healthPath: '/health', healthyStatus: 204, headers: POLICY },
      api: { listen: `${HOST}:0`, upstreams: [api.url], healthPath: '/health', healthyStatus: 204, headers: POLICY },
      psa: { upstreams: [psa.url], healthPath: '/psa/health', healthyStatus: 204, headers: POLICY },
      credentials: extra.credentialsFile ? undefined : { username: USER, password: PASS },
      credentialsFile: extra.credentialsFile,
      tokenSecret: extra.credentialsFile ? undefined : TOKEN_SECRET,
      credentialsCacheTtlMs: extra.credentialsCacheTtlMs,
      healthIntervalMs: 60000,
    }, { log: () => {} });
    closers.push(() => e.close());
    return { e, api, psa };
  }

  const json = (token, body) => ({ headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('a token from POST /psa/token opens /psa; the PSA upstream gets Basic and the client name, the REST API nothing', async () => {
    const { e, api, psa } = await psaEdge();
    const issued = await request(e.urls.api, 'POST', '/psa/token', { headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'kubo' }) });
    assert.equal(issued.status, 200, issued.body);
    const { token } = JSON.parse(issued.body);
    assert.equal(psa.seen.length, 0, 'POST /psa/token never reaches the origin');

    const pin = { cid: CID, name: 'x', origins: [`/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA`] };
    const posted = await request(e.urls.api, 'POST', '/psa/pins', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(pin) });
    assert.equal(posted.status, 202, posted.body);
    assert.deepEqual(JSON.parse(posted.body), { client: 'kubo', body: JSON.stringify(pin) });
    assert.equal(posted.headers['x-frame-options'], 'DENY', 'the API response headers policy');
    assert.equal(psa.seen[0].url, '/psa/pins', 'the path reaches the origin unchanged');
    assert.equal(psa.seen[0].headers.authorization, AUTH);

    const listed = await request(e.urls.api, 'GET', '/psa/pins?limit=10&status=pinned', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(listed.status, 200);
    assert.equal(psa.seen[1].url, '/psa/pins?limit=10&status=pinned');
    assert.equal(api.seen.length, 0);
  });

  test('refusals are answered at the edge in the PSA format; other paths still go to the REST API', async () => {
    const { e, api, psa } = await psaEdge();
    const anonymous = await request(e.urls.api, 'GET', '/psa/pins');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="IPFS Pinning Service"');
    assert.ok(JSON.parse(anonymous.body).error.details);
    const { token } = JSON.parse((await request(e.urls.api, 'POST', '/psa/token', { headers: { authorization: AUTH } })).body);
    const bad = await request(e.urls.api, 'POST', '/psa/pins', json(token, { cid: 'nope' }));
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.reason, 'BAD_REQUEST');
    const big = await request(e.urls.api, 'POST', '/psa/pins', json(token, { cid: CID, name: 'x'.repeat(50 * 1024) }));
    assert.equal(big.status, 413, 'over the 40 KB CloudFront shows the function');
    assert.equal(psa.seen.length, 0);
    const rest = await request(e.urls.api, 'GET', '/id', { headers: { authorization: AUTH } });
    assert.equal(rest.status, 200);
    assert.equal(api.seen[0].url, '/id');
  });

  test('the token key secret comes from the secrets file, read again when the cache expires: a revocation takes effect', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-edge-psa-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'secrets.env');
    const write = (secret) => writeFile(file, `U=${USER}\nP=${PASS}\nPSA_TOKEN_SECRET=${JSON.stringify(secret)}\n`);
    await write(TOKEN_SECRET);
    const { e } = await psaEdge({ credentialsFile: { path: file, usernameVar: 'U', passwordVar: 'P', tokenSecretVar: 'PSA_TOKEN_SECRET' }, credentialsCacheTtlMs: 200 });
    const issued = JSON.parse((await request(e.urls.api, 'POST', '/psa/token', { headers: { authorization: AUTH } })).body);
    const get = () => request(e.urls.api, 'GET', '/psa/pins', { headers: { authorization: `Bearer ${issued.token}` } });
    assert.equal((await get()).status, 200);
    await write({ ...TOKEN_SECRET, revoked: { [issued.id]: 4102444800 } });
    await new Promise((r) => setTimeout(r, 250));
    const refused = await get();
    assert.equal(refused.status, 401);
    assert.match(JSON.parse(refused.body).error.details, /revoked/);
  });
});
