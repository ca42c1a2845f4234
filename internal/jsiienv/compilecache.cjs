'use strict';
// A V8 code cache for the CommonJS modules of the jsii kernel, preloaded
// into its Node.js processes through NODE_OPTIONS by internal/jsiienv.
//
// Every synth loads several hundred files of aws-cdk-lib and cdk-nag (20 MB
// of JavaScript, more with every AWS service the app or a cdk-nag rule
// touches), and Node.js compiles each again in every process: about a
// third of what this app adds to an empty CDK app. Node.js 22 keeps such a
// cache itself (module.enableCompileCache); Node.js 20 has none, so this
// does what the v8-compile-cache package does: compile through vm.Script
// with the cached data and store new data when the process exits.
//
// The cache is one file per Node.js version, flags and main script, next to
// this file, written whole and renamed into place (concurrent kernels never
// see a torn file). Entries are keyed by the SHA-256 of the source: the
// kernel's module paths are new temporary directories on every run, and V8
// itself checks only the source's length. Anything unexpected turns the
// cache off for the process; it never changes what a module does.

const Module = require('module');
const path = require('path');

if (typeof Module.enableCompileCache === 'function') {
  Module.enableCompileCache(path.join(__dirname, 'v8'));
  return;
}

const crypto = require('crypto');
const fs = require('fs');
const vm = require('vm');

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('base64');
const key = sha256([process.version, process.arch, process.execArgv.join(' '),
  process.env.NODE_OPTIONS || '', path.basename(String(process.argv[1]))].join('\0')).replace(/[+/=]/g, '').slice(0, 16);
const cacheFile = path.join(__dirname, `cache-${key}.bin`);
// Past this size the file keeps only what this process used.
const maxBytes = 256 << 20;
const dayMs = 24 * 3600 * 1000;

// Layout: uint32 BE length of the JSON index, the index {hash: [offset,
// length]}, then the code caches.
let index = {};
let blob = Buffer.alloc(0);
try {
  const data = fs.readFileSync(cacheFile);
  const n = data.readUInt32BE(0);
  index = JSON.parse(data.subarray(4, 4 + n).toString('utf8'));
  blob = data.subarray(4 + n);
  // Keep a used file young so that the clean-up below spares it.
  if (Date.now() - fs.statSync(cacheFile).mtimeMs > dayMs) {
    fs.utimesSync(cacheFile, new Date(), new Date());
  }
} catch {
  index = {};
}

const used = new Set();
const fresh = new Map();
const dynamicImport = vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const compile = Module.prototype._compile;

Module.prototype._compile = function (content, filename) {
  if (typeof content !== 'string') {
    return compile.call(this, content, filename);
  }
  const hash = sha256(content);
  const entry = index[hash];
  const cachedData = entry ? blob.subarray(entry[0], entry[0] + entry[1]) : undefined;
  let script;
  try {
    script = new vm.Script(Module.wrap(content), { filename, cachedData, importModuleDynamically: dynamicImport });
  } catch {
    // Node.js's own path reports the syntax error as it always does.
    return compile.call(this, content, filename);
  }
  if (cachedData && !script.cachedDataRejected) {
    used.add(hash);
  } else {
    fresh.set(hash, script);
  }
  const mod = this;
  function require(id) {
    return mod.require(id);
  }
  require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  require.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  const wrapper = script.runInThisContext({ displayErrors: true });
  return wrapper.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
};

process.once('exit', () => {
  if (fresh.size === 0) {
    return;
  }
  try {
    const parts = [];
    const next = {};
    let offset = 0;
    const add = (hash, data) => {
      next[hash] = [offset, data.length];
      parts.push(data);
      offset += data.length;
    };
    const keepAll = blob.length < maxBytes;
    for (const [hash, [start, length]] of Object.entries(index)) {
      if (!fresh.has(hash) && (keepAll || used.has(hash))) {
        add(hash, blob.subarray(start, start + length));
      }
    }
    // After the module ran: the data then holds the functions it compiled
    // lazily too.
    for (const [hash, script] of fresh) {
      add(hash, script.createCachedData());
    }
    const head = Buffer.from(JSON.stringify(next), 'utf8');
    const size = Buffer.alloc(4);
    size.writeUInt32BE(head.length, 0);
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([size, head, ...parts]));
    fs.renameSync(tmp, cacheFile);
    // Caches of other Node.js versions, flags or hooks that nothing used
    // for a month.
    for (const name of fs.readdirSync(__dirname)) {
      const file = path.join(__dirname, name);
      if (/^cache-.*\.bin$/.test(name) && Date.now() - fs.statSync(file).mtimeMs > 30 * dayMs) {
        fs.rmSync(file, { force: true });
      }
    }
  } catch {
    // A cache that cannot be written is only a slower next run.
  }
});
