// Tests for the pin endpoint validation of the viewer-request handler
// (validateRequest): every rule, accept and refuse, and the requests that
// ipfs-cluster v1.1.6 mishandles (DESIGN.md §10). node:test, no network.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { createHandler, validateRequest, parseCid, isPeerID, isOrigin, isRFC3339, PIN_LIMITS } from './index.mjs';

// Real CIDs and keys, printed by kubo v0.43.0 (`ipfs cid format`).
const CID_V1 = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi';
const CID_V0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn';
const CID_V0_OF_V1 = 'QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR';
const CID_V1_BASE36 = 'k2jmtxw8rjh1z69c6not3wtdxb0u3urbzhyll1t9jg6ox26dhi5sfi1m';
const CID_V1_BASE58 = 'zdj7Wic6KcJAfWz1c9o4M6kq9Lwd5BfbxkVafnrojaaGiSFxM';
const CID_V1_BASE16 = 'f01701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391a';
const CID_V1_UPPER = 'BAFYBEIGDYRZT5SFP7UDM7HU76UH7Y26NF3EFUYLQABF3OCLGTQY55FBZDI';
const CID_V1_BASE64URL = 'uAXASIMPEcz7Ir_0Gz56f9Q_8a80uyFphcABLtwlmnDHelDka';
const PEER_ED25519 = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
const PEER_RSA = 'QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN';
const IPNS_KEY_BASE36 = 'k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8';
const IPNS_KEY_BASE32 = 'bafzaajaiaejcbzdibmxyzdjbbehgvizh6g5tikvy47mshdy6gwbruvgwvd24seje';

// Builds CIDv1 strings from parts (base32, as kubo prints them), so that
// hash functions and malformed structures can be tested.
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
function base32(bytes) {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return bits > 0 ? out + B32[(buffer << (5 - bits)) & 31] : out;
}
function varint(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const RAW = 0x55;
function cidOf(hashCode, digest, { codec = RAW, version = 1, extra = [] } = {}) {
  return 'b' + base32([...varint(version), ...varint(codec), ...varint(hashCode), ...varint(digest.length), ...digest, ...extra]);
}
const sha256 = (s) => [...createHash('sha256').update(s).digest()];

function req(method, uri, querystring = '', headers = {}) {
  return validateRequest({ method, uri, querystring, headers });
}

function refused(res, status, error, parameter) {
  assert.ok(res, 'expected a refusal, the request would reach the origin');
  assert.equal(res.status, String(status), res.body);
  assert.deepEqual(res.headers['cache-control'], [{ key: 'Cache-Control', value: 'no-store' }]);
  assert.deepEqual(res.headers['content-type'], [{ key: 'Content-Type', value: 'application/json' }]);
  const body = JSON.parse(res.body);
  assert.equal(body.code, status);
  assert.equal(body.error, error);
  assert.equal(body.parameter, parameter);
  assert.equal(typeof body.message, 'string');
  return body;
}

const pin = (query) => req('POST', `/pins/${CID_V1}`, query);
const add = (query) => req('POST', '/add', query);
const acceptPin = (query) => assert.equal(pin(query), null, query);
const refusePin = (query, parameter, error = 'bad_parameter') => refused(pin(query), 400, error, parameter);

describe('the requests ipfs-cluster v1.1.6 mishandles', () => {
  test('DELETE /pins/<cid>?replication-min=abc (400 and unpinned upstream) is refused', () => {
    for (const cid of [CID_V0, CID_V1]) {
      refused(req('DELETE', `/pins/${cid}`, 'replication-min=abc'), 400, 'unknown_parameter', 'replication-min');
    }
  });
  test('DELETE /pins/ipfs/<path>?replication-min=abc is refused', () => {
    refused(req('DELETE', `/pins/ipfs/${CID_V1}/a`, 'replication-min=abc'), 400, 'unknown_parameter', 'replication-min');
  });
  test('a DELETE accepts no parameter at all (upstream parses and ignores them)', () => {
    refused(req('DELETE', `/pins/${CID_V1}`, 'replication-min=1'), 400, 'unknown_parameter', 'replication-min');
    refused(req('DELETE', `/pins/${CID_V1}`, 'name=x'), 400, 'unknown_parameter', 'name');
    assert.equal(req('DELETE', `/pins/${CID_V1}`), null);
    assert.equal(req('DELETE', `/pins/ipfs/${CID_V1}/a/b`), null);
  });
  test('POST /pins/<cid>?replication-min=abc (400 and pinned upstream) is refused', () => {
    refusePin('replication-min=abc', 'replication-min');
    refused(req('POST', `/pins/ipns/example.org`, 'replication-max=x'), 400, 'bad_parameter', 'replication-max');
  });
  test('impossible replication (500 upstream) is refused', () => {
    refusePin('replication-min=3&replication-max=2', 'replication-min');
    refusePin('replication-min=-1&replication-max=2', 'replication-min');
    refusePin('replication-min=2&replication-max=-1', 'replication-min');
    refused(add('replication-min=5&replication-max=1'), 400, 'bad_parameter', 'replication-min');
  });
});

describe('what ipfs-cluster-ctl and the Go client send is accepted', () => {
  test('pin (PinOptions.ToQuery with defaults)', () => {
    acceptPin('mode=recursive&name=&replication-max=0&replication-min=0&shard-size=0&user-allocations=');
    acceptPin(`expire-at=2030-01-31T12%3A00%3A00Z&meta-owner=alice&mode=direct&name=my+pin&origins=%2Fip4%2F192.0.2.1%2Ftcp%2F4001%2Fp2p%2F${PEER_ED25519}&pin-update=${CID_V0}&replication-max=3&replication-min=2&shard-size=0&user-allocations=${PEER_ED25519}%2C${PEER_RSA}`);
    assert.equal(req('POST', `/pins/ipfs/${CID_V1}/sub/dir`, 'mode=recursive&name=&replication-max=0&replication-min=0&shard-size=0&user-allocations='), null);
  });
  test('add (AddParams.ToQueryString with defaults)', () => {
    assert.equal(add('chunker=size-262144&cid-version=0&format=unixfs&hash=sha2-256&hidden=false&layout=&local=false&mode=recursive&name=&no-pin=false&nocopy=false&progress=false&raw-leaves=false&recursive=false&replication-max=0&replication-min=0&shard=false&shard-size=104857600&stream-channels=true&user-allocations=&wrap-with-directory=false'), null);
  });
  test('status, status of all, recover, allocations', () => {
    assert.equal(req('GET', `/pins/${CID_V1}`, 'local=false'), null);
    assert.equal(req('GET', '/pins', 'local=false&filter=&cids='), null);
    assert.equal(req('GET', '/pins', `local=true&filter=pin_error%2Cpinned&cids=${CID_V0},${CID_V1}`), null);
    assert.equal(req('POST', `/pins/${CID_V1}/recover`, 'local=true'), null);
    assert.equal(req('POST', '/pins/recover', 'local=false'), null);
    assert.equal(req('GET', '/allocations', 'filter=pin'), null);
    assert.equal(req('GET', '/allocations', 'filter=pin%2Cmeta-pin%2Cclusterdag-pin%2Cshard-pin'), null);
    assert.equal(req('GET', '/allocations', 'filter=all'), null);
    assert.equal(req('GET', `/allocations/${CID_V1}`), null);
  });
});

describe('CIDs', () => {
  test('accepted: CIDv0, and CIDv1 in base32, base36, base58btc and base16', () => {
    for (const cid of [CID_V0, CID_V0_OF_V1, CID_V1, CID_V1_BASE36, CID_V1_BASE58, CID_V1_BASE16, IPNS_KEY_BASE32]) {
      assert.notEqual(parseCid(cid), null, cid);
      assert.equal(req('GET', `/pins/${cid}`), null, cid);
    }
    assert.deepEqual(parseCid(CID_V1), { version: 1, codec: 0x70 });
    assert.deepEqual(parseCid(CID_V0), { version: 0, codec: 0x70 });
  });
  test('accepted hash functions: the ones kubo pins (sha2, sha3, blake2b, blake3, identity)', () => {
    for (const [code, len] of [[0x12, 32], [0x13, 64], [0x16, 32], [0x1e, 32], [0xb220, 32], [0xb240, 64], [0x11, 20]]) {
      assert.notEqual(parseCid(cidOf(code, new Array(len).fill(7))), null, code.toString(16));
    }
    assert.notEqual(parseCid(cidOf(0x00, [...Buffer.from('hello')])), null, 'identity');
    assert.notEqual(parseCid(cidOf(0x00, new Array(128).fill(1))), null, 'identity of 128 bytes');
  });
  const refusedCids = {
    'upper-case base32 (another spelling)': CID_V1_UPPER,
    'base64url (another spelling)': CID_V1_BASE64URL,
    'not a CID': 'notacid',
    'one character changed in base58': CID_V0.slice(0, -1) + '0',
    'CIDv0 of the wrong length': CID_V0.slice(0, -1),
    'md5': cidOf(0xd5, new Array(16).fill(1)),
    'murmur3': cidOf(0x22, new Array(16).fill(1)),
    'digest shorter than 20 bytes': cidOf(0x12, new Array(16).fill(1)),
    'identity longer than 128 bytes': cidOf(0x00, new Array(129).fill(1)),
    'digest length says 32, carries 31': 'b' + base32([1, RAW, 0x12, 32, ...sha256('x').slice(1)]),
    'trailing bytes': cidOf(0x12, sha256('x'), { extra: [0] }),
    'version 2': cidOf(0x12, sha256('x'), { version: 2 }),
    'non-minimal varint': 'b' + base32([1, 0xd5, 0x00, 0x12, 32, ...sha256('x')]),
    'base32 with non-zero padding bits': CID_V1.slice(0, -1) + 'j',
    'empty multibase payload': 'b',
    'too long': 'b' + 'a'.repeat(PIN_LIMITS.cidChars),
  };
  for (const [name, cid] of Object.entries(refusedCids)) {
    test(`refused: ${name}`, () => {
      assert.equal(parseCid(cid), null, cid);
      refused(req('POST', `/pins/${encodeURIComponent(cid)}`), 400, 'bad_cid', 'cid');
      refused(req('DELETE', `/pins/${encodeURIComponent(cid)}`), 400, 'bad_cid', 'cid');
    });
  }
  test('the CID of /allocations/<cid> and /pins/<cid>/recover is checked', () => {
    refused(req('GET', '/allocations/nope'), 400, 'bad_cid', 'cid');
    refused(req('POST', '/pins/nope/recover'), 400, 'bad_cid', 'cid');
    refused(req('POST', '/pins/ipfs/recover'), 400, 'bad_cid', 'cid');
    refused(req('GET', '/pins/recover'), 400, 'bad_cid', 'cid');
  });
  test('peer IDs: base58 ed25519 and RSA, libp2p-key CIDs; not content CIDs', () => {
    for (const id of [PEER_ED25519, PEER_RSA, IPNS_KEY_BASE36, IPNS_KEY_BASE32]) {
      assert.ok(isPeerID(id), id);
    }
    for (const id of [CID_V1, PEER_ED25519.slice(0, -1), '12D3KooW', 'QmNotAPeer', '']) {
      assert.ok(!isPeerID(id), id);
    }
  });
});

describe('IPFS paths', () => {
  test('accepted', () => {
    for (const path of [`ipfs/${CID_V1}`, `ipfs/${CID_V0}/a/b/c.txt`, `ipld/${CID_V1}/x`, `ipns/${IPNS_KEY_BASE36}`, 'ipns/en.wikipedia-on-ipfs.org/wiki', `ipfs/${CID_V1}/caf%C3%A9`]) {
      assert.equal(req('POST', `/pins/${path}`, 'name=x'), null, path);
      assert.equal(req('DELETE', `/pins/${path}`), null, path);
    }
  });
  const bad = {
    'an ipfs root that is not a CID': 'ipfs/notacid/x',
    'an ipld root that is not a CID': 'ipld/notacid',
    'an ipns root that is neither key nor DNS name': 'ipns/notakey',
    'a segment longer than 255 bytes': `ipfs/${CID_V1}/${'a'.repeat(256)}`,
    'control characters': `ipfs/${CID_V1}/a%0Ab`,
    'a path longer than 2048 bytes': `ipfs/${CID_V1}/${Array(10).fill('a'.repeat(250)).join('/')}`,
  };
  for (const [name, path] of Object.entries(bad)) {
    test(`refused: ${name}`, () => {
      refused(req('POST', `/pins/${path}`), 400, 'bad_path', 'path');
      refused(req('DELETE', `/pins/${path}`), 400, 'bad_path', 'path');
    });
  }
  test('a path that is not UTF-8 is refused', () => {
    refused(req('POST', `/pins/ipfs/${CID_V1}/%FF`), 400, 'bad_request', 'uri');
    refused(req('POST', `/pins/ipfs/${CID_V1}/%zz`), 400, 'bad_request', 'uri');
  });
});

describe('replication', () => {
  test('accepted: -1 (everywhere) for both, 0 (default), min <= max, one side alone, replication=n', () => {
    for (const q of ['replication-min=-1&replication-max=-1', 'replication-min=0&replication-max=0', 'replication-min=1&replication-max=3',
      'replication-min=2&replication-max=2', 'replication-min=2', 'replication-max=5', 'replication-min=-1', 'replication=3', 'replication=-1',
      `replication-max=${PIN_LIMITS.replication}`, 'replication-min=&replication-max=']) {
      acceptPin(q);
    }
  });
  test('refused: not an integer, below -1, above the bound, leading zeros or signs', () => {
    for (const v of ['abc', '-2', '1.5', '1e3', '+1', '01', ' 1', '0x1', `${PIN_LIMITS.replication + 1}`, '99999999999999999999', '-0']) {
      for (const name of ['replication-min', 'replication-max', 'replication']) {
        refusePin(`${name}=${encodeURIComponent(v)}`, name);
      }
    }
  });
  test('refused: min > max, -1 on one side only, replication with min or max', () => {
    refusePin('replication-min=4&replication-max=3', 'replication-min');
    refusePin('replication-min=-1&replication-max=3', 'replication-min');
    refusePin('replication-min=3&replication-max=-1', 'replication-min');
    refusePin('replication=2&replication-min=1', 'replication');
    refusePin('replication=2&replication-max=3', 'replication');
  });
});

describe('pin options', () => {
  test('mode: recursive or direct', () => {
    acceptPin('mode=recursive');
    acceptPin('mode=direct');
    acceptPin('mode=');
    refusePin('mode=Direct', 'mode');
    refusePin('mode=indirect', 'mode');
  });
  test(`name: at most ${PIN_LIMITS.nameBytes} UTF-8 bytes, no control characters`, () => {
    acceptPin(`name=${'a'.repeat(PIN_LIMITS.nameBytes)}`);
    acceptPin(`name=${encodeURIComponent('é'.repeat(PIN_LIMITS.nameBytes / 2 - 1))}`);
    acceptPin('name=my+file+%28v2%29.tar.gz');
    refusePin(`name=${'a'.repeat(PIN_LIMITS.nameBytes + 1)}`, 'name');
    refusePin(`name=${encodeURIComponent('é'.repeat(128))}`, 'name'); // 256 bytes
    refusePin('name=a%0Db', 'name');
    refusePin('name=a%00b', 'name');
    refusePin('name=a%C2%85b', 'name'); // C1 control (NEL)
  });
  test('meta-*: bounded keys, values and count', () => {
    acceptPin('meta-owner=alice&meta-project.id=42&meta-a_b-c=');
    acceptPin(`meta-${'k'.repeat(PIN_LIMITS.metaKeyBytes)}=${'v'.repeat(PIN_LIMITS.metaValueBytes)}`);
    acceptPin(Array.from({ length: PIN_LIMITS.metaEntries }, (_, i) => `meta-k${i}=v`).join('&'));
    refusePin(Array.from({ length: PIN_LIMITS.metaEntries + 1 }, (_, i) => `meta-k${i}=v`).join('&'), `meta-k${PIN_LIMITS.metaEntries}`);
    refusePin(`meta-${'k'.repeat(PIN_LIMITS.metaKeyBytes + 1)}=v`, `meta-${'k'.repeat(PIN_LIMITS.metaKeyBytes + 1)}`);
    refusePin(`meta-k=${'v'.repeat(PIN_LIMITS.metaValueBytes + 1)}`, 'meta-k');
    refusePin('meta-=v', 'meta-'); // the cluster silently drops it
    refusePin('meta-a%20b=v', 'meta-a b');
    refusePin('meta-k=a%1Bb', 'meta-k');
    refused(req('GET', `/pins/${CID_V1}`, 'meta-k=v'), 400, 'unknown_parameter', 'meta-k');
  });
  test('expire-at: RFC 3339', () => {
    for (const v of ['2030-01-31T12:00:00Z', '2030-01-31T12:00:00.123456789Z', '2030-01-31T12:00:00+02:00', '2028-02-29T00:00:00-23:59']) {
      assert.ok(isRFC3339(v), v);
      acceptPin(`expire-at=${encodeURIComponent(v)}`);
    }
    for (const v of ['2030-01-31', '2030-01-31 12:00:00Z', '2030-01-31t12:00:00z', '2029-02-29T00:00:00Z', '2030-13-01T00:00:00Z',
      '2030-01-31T24:00:00Z', '2030-01-31T12:60:00Z', '2030-01-31T12:00:60Z', '2030-01-31T12:00:00+24:00', '2030-01-31T12:00:00.Z',
      '2030-01-31T12:00:00.1234567890Z', '1700000000', 'tomorrow']) {
      assert.ok(!isRFC3339(v), v);
      refusePin(`expire-at=${encodeURIComponent(v)}`, 'expire-at');
    }
  });
  test('expire-in: a Go duration of at least a second, not with expire-at', () => {
    for (const v of ['1s', '720h', '1.5h', '1h30m', '90m', '1000ms', '1000000000ns']) {
      acceptPin(`expire-in=${v}`);
    }
    for (const v of ['999ms', '0s', '-1h', '1', 'h', '1d', '1 h', '3000000h']) {
      refusePin(`expire-in=${encodeURIComponent(v)}`, 'expire-in');
    }
    refusePin('expire-at=2030-01-31T12%3A00%3A00Z&expire-in=1h', 'expire-in');
  });
  test('shard-size: an unsigned 64-bit integer', () => {
    for (const v of ['0', '104857600', '18446744073709551615']) {
      acceptPin(`shard-size=${v}`);
    }
    for (const v of ['18446744073709551616', '-1', '1e6', '01', '100MB', '1.0']) {
      refusePin(`shard-size=${v}`, 'shard-size');
    }
  });
  test('user-allocations: peer IDs', () => {
    acceptPin(`user-allocations=${PEER_ED25519},${PEER_RSA}`);
    acceptPin('user-allocations=');
    refusePin(`user-allocations=${PEER_ED25519},nope`, 'user-allocations'); // the cluster silently drops "nope"
    refusePin(`user-allocations=${PEER_ED25519},,${PEER_RSA}`, 'user-allocations');
    refusePin(`user-allocations=${Array(PIN_LIMITS.userAllocations + 1).fill(PEER_RSA).join(',')}`, 'user-allocations');
  });
  test('origins: multiaddresses that name their peer', () => {
    for (const o of [`/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ED25519}`, `/ip6/2001:db8::1/udp/4001/quic-v1/p2p/${PEER_RSA}`,
      `/dns4/node0.example.org/tcp/4001/p2p/${PEER_ED25519}`, `/p2p/${PEER_ED25519}`, `/dnsaddr/bootstrap.libp2p.io/ipfs/${PEER_RSA}`]) {
      assert.ok(isOrigin(o), o);
    }
    acceptPin(`origins=${encodeURIComponent(`/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ED25519},/p2p/${PEER_RSA}`)}`);
    for (const o of ['/ip4/192.0.2.1/tcp/4001', `/ip4/300.0.0.1/tcp/4001/p2p/${PEER_ED25519}`, `/ip4/192.0.2.1/tcp/70000/p2p/${PEER_ED25519}`,
      `/foo/1/p2p/${PEER_ED25519}`, `/ip4/192.0.2.1/tcp/4001/p2p/${CID_V1}`, `ip4/192.0.2.1/p2p/${PEER_ED25519}`, '/p2p']) {
      assert.ok(!isOrigin(o), o);
      refusePin(`origins=${encodeURIComponent(o)}`, 'origins');
    }
  });
  test('pin-update: a CID', () => {
    acceptPin(`pin-update=${CID_V0}`);
    refusePin('pin-update=nope', 'pin-update');
  });
  test('the path route takes the same options', () => {
    refused(req('POST', `/pins/ipfs/${CID_V1}`, 'mode=all'), 400, 'bad_parameter', 'mode');
    refused(req('POST', `/pins/ipfs/${CID_V1}`, 'wait=true'), 400, 'unknown_parameter', 'wait');
  });
});

describe('/add', () => {
  test('booleans: what strconv.ParseBool reads', () => {
    for (const name of ['local', 'recursive', 'hidden', 'wrap-with-directory', 'shard', 'progress', 'raw-leaves', 'stream-channels', 'nocopy', 'no-pin']) {
      for (const v of ['true', 'false', '1', '0', 't', 'F', 'TRUE', 'False', '']) {
        assert.equal(add(`${name}=${v}`), null, `${name}=${v}`);
      }
      for (const v of ['yes', 'on', '2', 'tru']) {
        refused(add(`${name}=${v}`), 400, 'bad_parameter', name);
      }
    }
  });
  test('layout, format, cid-version', () => {
    for (const q of ['layout=balanced', 'layout=trickle', 'format=car', 'format=unixfs', 'cid-version=0', 'cid-version=1']) {
      assert.equal(add(q), null, q);
    }
    for (const [q, p] of [['layout=flat', 'layout'], ['format=tar', 'format'], ['cid-version=2', 'cid-version'], ['cid-version=-1', 'cid-version']]) {
      refused(add(q), 400, 'bad_parameter', p);
    }
  });
  test('chunker: what boxo accepts', () => {
    for (const v of ['size-262144', 'size-1', `size-${2 * 1024 * 1024 - 256}`, 'rabin', 'rabin-262144', 'rabin-16-32-64', 'rabin-min:16-avg:32-max:64', 'buzhash', 'default']) {
      assert.equal(add(`chunker=${v}`), null, v);
    }
    for (const v of ['size-0', `size-${2 * 1024 * 1024 - 255}`, 'size-', 'size-abc', 'rabin-8-32-64', 'rabin-32-32-64', 'rabin-16-64-32', 'rabin-16-32',
      'rabin-avg:16-min:32-max:64', 'rabin-1400000', 'buzhash-1', 'fixed']) {
      refused(add(`chunker=${v}`), 400, 'bad_parameter', 'chunker');
    }
  });
  test('hash: functions kubo accepts for content, any case', () => {
    for (const v of ['sha2-256', 'SHA2-256', 'sha2-512', 'sha3-256', 'blake3', 'blake2b-256']) {
      assert.equal(add(`hash=${v}`), null, v);
    }
    for (const v of ['identity', 'md5', 'murmur3-x64-64', 'x11', 'sha256']) {
      refused(add(`hash=${v}`), 400, 'bad_parameter', 'hash');
    }
  });
  test('pin options apply to /add too', () => {
    assert.equal(add('replication-min=2&replication-max=3&name=x&meta-k=v&expire-in=24h'), null);
    refused(add('replication-min=abc'), 400, 'bad_parameter', 'replication-min');
    refused(add('mode=weird'), 400, 'bad_parameter', 'mode');
    refused(add('wrap=true'), 400, 'unknown_parameter', 'wrap');
  });
});

describe('status, recover and allocations filters', () => {
  test('local is "true" or "false" (anything else silently means false upstream)', () => {
    for (const [method, uri] of [['GET', `/pins/${CID_V1}`], ['GET', '/pins'], ['POST', `/pins/${CID_V1}/recover`], ['POST', '/pins/recover']]) {
      assert.equal(req(method, uri, 'local=true'), null);
      for (const v of ['1', 'True', 'yes']) {
        refused(req(method, uri, `local=${v}`), 400, 'bad_parameter', 'local');
      }
    }
  });
  test('GET /pins filter: known statuses only', () => {
    for (const f of ['pinned', 'error', 'queued', 'pin_error,unpin_error', 'unexpectedly_unpinned']) {
      assert.equal(req('GET', '/pins', `filter=${f}`), null, f);
    }
    for (const f of ['pinned,typo', 'undefined', 'PINNED', 'pinned,', ' pinned']) {
      refused(req('GET', '/pins', `filter=${encodeURIComponent(f)}`), 400, 'bad_parameter', 'filter');
    }
  });
  test('GET /pins cids: CIDs only', () => {
    refused(req('GET', '/pins', `cids=${CID_V1},nope`), 400, 'bad_parameter', 'cids');
    refused(req('GET', '/pins', `cids=${Array(PIN_LIMITS.cids + 1).fill(CID_V0).join(',')}`), 400, 'bad_parameter', 'cids');
  });
  test('GET /allocations filter: known pin types only', () => {
    refused(req('GET', '/allocations', 'filter=pin,typo'), 400, 'bad_parameter', 'filter');
    refused(req('GET', '/allocations', 'filter=pins'), 400, 'bad_parameter', 'filter');
    refused(req('GET', '/allocations', 'local=true'), 400, 'unknown_parameter', 'local');
    refused(req('GET', `/allocations/${CID_V1}`, 'local=true'), 400, 'unknown_parameter', 'local');
  });
});

describe('the query string', () => {
  test('unknown parameters are refused on every pin route', () => {
    refusePin('wait=true', 'wait', 'unknown_parameter');
    refused(req('GET', `/pins/${CID_V1}`, 'foo=1'), 400, 'unknown_parameter', 'foo');
    refused(req('GET', '/pins', 'limit=10'), 400, 'unknown_parameter', 'limit');
    refused(add('no-copy=true'), 400, 'unknown_parameter', 'no-copy'); // v1.1.6 reads "nocopy"
    refused(add('pin=false'), 400, 'unknown_parameter', 'pin');
  });
  test('a repeated parameter is refused (the cluster reads only the first)', () => {
    refusePin('name=a&name=b', 'name', 'duplicate_parameter');
    refusePin('replication-min=1&replication-min=abc', 'replication-min', 'duplicate_parameter');
    refusePin('meta-k=1&meta-k=2', 'meta-k', 'duplicate_parameter');
    refusePin('name=a&name%3D=b&name=c', 'name', 'duplicate_parameter');
  });
  test('keys and values are percent-decoded as Go does, + is a space', () => {
    refusePin('replication%2Dmin=abc', 'replication-min');
    refusePin('name=a&%6Eame=b', 'name', 'duplicate_parameter');
    acceptPin('name=a+b%20c&&mode=direct&');
    acceptPin('name=caf\u00e9-\u{1F680}'); // raw UTF-8, astral plane included
    refusePin(`name=${'\u{1F680}'.repeat(64)}`, 'name'); // 256 bytes
  });
  test('malformed pieces Go would silently drop are refused', () => {
    refusePin('name=a;mode=direct', 'name');
    refusePin('name=%zz', 'name');
    refusePin('name=%FF', 'name'); // not UTF-8
    refusePin('%zz=1', '%zz');
    refusePin('=x', '');
    refusePin('wait', 'wait', 'unknown_parameter');
  });
  test('an overlong parameter name is quoted shortened', () => {
    const body = refusePin(`${'x'.repeat(5000)}=1`, 'x'.repeat(5000), 'unknown_parameter');
    assert.ok(body.message.length < 1000);
  });
});

describe('methods, bodies, routes', () => {
  test('a DELETE with a body is refused', () => {
    const cl = (v) => ({ 'content-length': [{ key: 'Content-Length', value: v }] });
    refused(req('DELETE', `/pins/${CID_V1}`, '', cl('5')), 400, 'bad_request', 'body');
    refused(req('DELETE', `/pins/ipfs/${CID_V1}`, '', cl('1')), 400, 'bad_request', 'body');
    refused(req('DELETE', `/pins/${CID_V1}`, '', { 'transfer-encoding': [{ key: 'Transfer-Encoding', value: 'chunked' }] }), 400, 'bad_request', 'body');
    assert.equal(req('DELETE', `/pins/${CID_V1}`, '', cl('0')), null);
  });
  test('other methods get 405 with Allow', () => {
    for (const [method, uri, allow] of [['PUT', `/pins/${CID_V1}`, 'GET, POST, DELETE'], ['HEAD', '/pins', 'GET'], ['GET', '/add', 'POST'],
      ['DELETE', '/allocations', 'GET'], ['GET', `/pins/ipfs/${CID_V1}/a`, 'POST, DELETE'], ['PATCH', `/allocations/${CID_V1}`, 'GET']]) {
      const res = req(method, uri);
      refused(res, 405, 'method_not_allowed', undefined);
      assert.deepEqual(res.headers.allow, [{ key: 'Allow', value: allow }], `${method} ${uri}`);
    }
  });
  test('OPTIONS (CORS preflight) passes to the cluster', () => {
    assert.equal(req('OPTIONS', `/pins/${CID_V1}`, 'anything=1'), null);
  });
  test('paths below the routes that the cluster does not serve get 404', () => {
    for (const uri of [`/pins/${CID_V1}/foo`, '/add/x', `/allocations/${CID_V1}/x`, `/pins/${CID_V1}/recover/x`, '/pins/a/b']) {
      refused(req('POST', uri), 404, 'not_found', undefined);
    }
  });
  test('the path is routed as the cluster routes it: decoded, cleaned, trailing slash dropped', () => {
    for (const uri of [`/pins/${CID_V1}/`, `//pins/${CID_V1}`, `/x/../pins/${CID_V1}`, `/pins/./${CID_V1}`, `/%70ins/${CID_V1}`, `/pins%2F${CID_V1}`]) {
      refused(req('DELETE', uri, 'replication-min=abc'), 400, 'unknown_parameter', 'replication-min');
    }
    refused(req('POST', '/add/', 'x=1'), 400, 'unknown_parameter', 'x');
  });
  test('other routes pass unchanged, whatever they carry', () => {
    for (const [method, uri, q] of [['GET', `/ipfs/${CID_V1}/a`, 'format=car&x=1&x=2'], ['GET', '/ipns/example.org', 'a;b'], ['GET', '/id', 'x=1'],
      ['GET', '/peers', ''], ['DELETE', `/peers/${PEER_ED25519}`, 'replication-min=abc'], ['GET', '/health', ''], ['GET', '/version', ''],
      ['GET', '/monitor/metrics/freespace', 'x=%zz'], ['GET', '/health/graph', ''], ['POST', '/ipfs/gc', 'local=maybe'], ['POST', '/token', ''],
      ['GET', '/pinsx', 'x=1'], ['GET', '/Pins', 'x=1'], ['GET', '/addx', ''], ['GET', `/ipfs/${CID_V1}/100%zz`, ''], ['GET', '/', '']]) {
      assert.equal(req(method, uri, q), null, `${method} ${uri}?${q}`);
    }
  });
});

describe('inside the viewer-request handler', () => {
  const USER = 'admin';
  const PASS = 'pw';
  const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  const event = (authorization, method, uri, querystring) => ({
    Records: [{ cf: { request: { method, uri, querystring, clientIp: '203.0.113.1',
      headers: { authorization: [{ key: 'Authorization', value: authorization }] } } } }],
  });
  const h = createHandler({ loadCredentials: async () => ({ username: USER, password: PASS }), log: () => {} });

  test('authentication comes first: a bad request without valid credentials gets 401', async () => {
    const res = await h(event(basic(USER, 'wrong'), 'DELETE', `/pins/${CID_V1}`, 'replication-min=abc'));
    assert.equal(res.status, '401');
  });
  test('an authenticated bad request gets the 400 and never the request', async () => {
    const res = await h(event(basic(USER, PASS), 'DELETE', `/pins/${CID_V1}`, 'replication-min=abc'));
    refused(res, 400, 'unknown_parameter', 'replication-min');
    assert.equal(res.uri, undefined);
  });
  test('an authenticated good request is passed on untouched', async () => {
    const e = event(basic(USER, PASS), 'POST', `/pins/${CID_V1}`, 'replication-min=1&replication-max=2');
    const copy = structuredClone(e.Records[0].cf.request);
    const res = await h(e);
    assert.equal(res, e.Records[0].cf.request);
    assert.deepEqual(res, copy);
  });
});
