// Parse every Mermaid block of Markdown files with Mermaid's own parser, as GitHub's renderer would.
//
// Usage: node tools/check_mermaid.mjs FILE.md...   (exit 1 when a block does not parse or a file has none,
// 2 when Mermaid is missing)
//
// `make lint-workflows` installs mermaid and jsdom under .tools/node_modules, pinned in the Makefile. Mermaid's
// parse() needs a DOM only for DOMPurify, which sanitises labels: jsdom gives it one, nothing is rendered.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const modules = process.env.MERMAID_MODULES ?? path.join(root, ".tools", "node_modules");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/check_mermaid.mjs FILE.md...");
  process.exit(2);
}

let mermaid;
try {
  const require = createRequire(path.join(modules, "noop.js"));
  const { JSDOM } = require("jsdom");
  const { window } = new JSDOM("");
  globalThis.window = window;
  globalThis.document = window.document;
  ({ default: mermaid } = await import(pathToFileURL(require.resolve("mermaid")).href));
  mermaid.initialize({ startOnLoad: false });
} catch (error) {
  console.error(`mermaid is not installed in ${modules} (run make lint-workflows): ${error.message}`);
  process.exit(2);
}

const FENCE = /^(`{3,}|~{3,})mermaid\s*$/;
let failures = 0;
for (const file of files) {
  const lines = (await readFile(file, "utf8")).split("\n");
  let blocks = 0;
  for (let i = 0; i < lines.length; i += 1) {
    const open = lines[i].match(FENCE);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== open[1]) end += 1;
    blocks += 1;
    try {
      const result = await mermaid.parse(lines.slice(start, end).join("\n"));
      console.log(`${file}:${start}: ${result.diagramType} parses`);
    } catch (error) {
      failures += 1;
      console.log(`${file}:${start}: does not parse: ${String(error.message).split("\n").join(" | ")}`);
    }
    i = end;
  }
  if (blocks === 0) {
    failures += 1;
    console.log(`${file}: no mermaid block`);
  }
}
process.exit(failures === 0 ? 0 : 1);
