// Tests for the subdomain gateway's viewer-response function: the file runs
// as CloudFront runs it (a plain script defining handler), in a fresh
// context. Run: node --test lambda-edge/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const source = readFileSync(new URL('./index.js', import.meta.url), 'utf8');

function load(domain) {
  const code = source.replace('"gateway.example"', JSON.stringify(domain));
  return vm.runInNewContext(code + '\nhandler;', {});
}

function respond(handler, headers) {
  return handler({ response: { statusCode: 301, statusDescription: 'Moved Permanently', headers } });
}

test('the domain placeholder is there to replace', () => {
  assert.ok(source.includes('var gatewayDomain = "gateway.example";'));
});

test("kubo's http:// redirect to a subdomain becomes https://", () => {
  const handler = load('gw.example.org');
  const cid = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
  for (const [from, to] of [
    [`http://${cid}.ipfs.gw.example.org/`, `https://${cid}.ipfs.gw.example.org/`],
    [`http://${cid}.ipfs.gw.example.org/a/b.html?x=1#top`, `https://${cid}.ipfs.gw.example.org/a/b.html?x=1#top`],
    ['http://k51qzi5uqu5d.ipns.gw.example.org/', 'https://k51qzi5uqu5d.ipns.gw.example.org/'],
    ['http://en-wikipedia--on--ipfs-org.ipns.gw.example.org/wiki/', 'https://en-wikipedia--on--ipfs-org.ipns.gw.example.org/wiki/'],
    ['http://gw.example.org/ipfs/x', 'https://gw.example.org/ipfs/x'],
    ['HTTP://GW.example.org:80/', 'https://GW.example.org:80/'],
  ]) {
    const r = respond(handler, { location: { value: from } });
    assert.equal(r.headers.location.value, to, from);
  }
});

test('redirects elsewhere, https ones and responses without Location are untouched', () => {
  const handler = load('gw.example.org');
  for (const value of [
    'http://example.org/',
    'http://gw.example.org.evil.test/',
    'http://evilgw.example.org/',
    'http://evil.test/?next=.gw.example.org',
    'http://evil.test#.gw.example.org',
    'https://x.ipfs.gw.example.org/',
    '/relative/path',
  ]) {
    const r = respond(handler, { location: { value } });
    assert.equal(r.headers.location.value, value, value);
  }
  const r = respond(handler, { 'content-type': { value: 'text/html' } });
  assert.deepEqual(Object.keys(r.headers), ['content-type']);
});
