// Parses every ```mermaid block of the Markdown files named on the command
// line with Mermaid's own parser, as Git hosting does before it renders
// one: exit 1 naming the file and the parser's message when one does not
// parse. MERMAID_MODULES is the node_modules directory holding mermaid and
// jsdom (test/diagram_test.go installs them); Mermaid sanitizes labels
// with DOMPurify, which needs a DOM, so jsdom provides one.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(join(process.env.MERMAID_MODULES, 'noop.js'));
const { JSDOM } = require('jsdom');
const { window } = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')).href);
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

for (const file of process.argv.slice(2)) {
  const blocks = [...readFileSync(file, 'utf8').matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  if (blocks.length === 0) {
    console.log(`${file}: no mermaid block`);
    process.exitCode = 1;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      const { diagramType } = await mermaid.parse(block);
      console.log(`${file}: block ${i + 1}: ${diagramType}, ${block.length} characters`);
    } catch (e) {
      console.log(`${file}: block ${i + 1} does not parse: ${e.message}`);
      process.exitCode = 1;
    }
  }
}
