'use strict';
// The jsii runtime's launcher (bin/jsii-runtime.js), plus a log: bench -v
// starts the kernel through it (JSII_RUNTIME) and reads each request and
// response line with a monotonic time in microseconds from BENCH_TRACE.
const { spawn } = require('child_process');
const fs = require('fs');
const program = process.argv[2];
const trace = fs.openSync(process.env.BENCH_TRACE, 'w');
const log = (what) => fs.writeSync(trace, `${process.hrtime.bigint() / 1000n} ${what}\n`);
log('spawn');
const child = spawn(process.execPath, ['--preserve-symlinks', program], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
child.once('exit', (code, signal) => {
  log('exit');
  process.exit(signal ? 1 : code);
});
// The Go side reads the kernel's own stdout and stderr in this envelope.
child.stdout.on('data', (c) => console.error(JSON.stringify({ stdout: c.toString('base64') })));
child.stderr.on('data', (c) => console.error(JSON.stringify({ stderr: c.toString('base64') })));
const commands = child.stdio[3];
process.stdin.on('data', (c) => {
  for (const line of c.toString().split('\n').filter(Boolean)) log(`> ${line.slice(0, 300)}`);
  commands.write(c);
});
process.stdin.on('end', () => commands.end());
commands.on('data', (c) => {
  for (const line of c.toString().split('\n').filter(Boolean)) log(`< ${line.slice(0, 300)}`);
  process.stdout.write(c);
});
