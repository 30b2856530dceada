// Builds hello.js into a WebAssembly component of Portico's gateway-connector
// world: `node build.mjs [OUT.wasm]` (default: hello-connector-js.component.wasm).
// `portico plugin pack` then embeds plugin.toml to make the plugin file.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const out = process.argv[2] ?? here('./hello-connector-js.component.wasm');

const { component } = await componentize({
  sourcePath: here('./hello.js'),
  witPath: here('../../wit'),
  worldName: 'gateway-connector',
  // Only what the world needs: no stdio, clocks or random beyond its imports.
  disableFeatures: ['stdio', 'random', 'clocks', 'fetch-event'],
});
await writeFile(out, component);
console.log(`built ${out} (${component.length} bytes)`);
