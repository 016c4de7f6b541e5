// Goal: the layout and style rules of docs/STYLE.md hold for every source file, so they are
// enforced by CI rather than by memory. Method: read every .ts file under src/ and check
// header comments, module boundaries (only index.ts is imported across modules), purity of
// the engine (no I/O, clocks, randomness or timers), and that no test is skipped.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function listSources(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...listSources(path));
    else if (name.endsWith(".ts")) files.push(path);
  }
  return files;
}

const sources = listSources(join(root, "src")).map((path) => ({
  path: relative(root, path),
  text: readFileSync(path, "utf8"),
}));

test("the tree has sources to check", () => {
  assert.ok(sources.length > 20, `found only ${sources.length} source files`);
});

test("every file opens with a header comment", () => {
  const missing = sources.filter(({ text }) => !text.startsWith("//")).map(({ path }) => path);
  assert.deepEqual(missing, []);
});

test("modules import each other only through index.ts", () => {
  const violations: string[] = [];
  for (const { path, text } of sources) {
    const moduleDir = path.split("/").slice(0, -1).join("/");
    for (const match of text.matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
      const target = join(dirname(path), match[1] as string);
      const targetDir = dirname(target);
      const crossesModule = !targetDir.startsWith(moduleDir) && !moduleDir.startsWith(targetDir);
      const isTopLevel = targetDir === "src";
      if (crossesModule && !isTopLevel && !target.endsWith("/index.ts")) {
        violations.push(`${path} imports ${match[1]}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test("the engine is pure: no I/O, clocks, randomness or timers", () => {
  const banned = [
    /from "node:(fs|net|http|child_process|dgram|worker_threads)/,
    /Date\.now\(/,
    /Math\.random\(/,
    /\bsetTimeout\(/,
    /\bsetInterval\(/,
    /\bsetImmediate\(/,
    /performance\.now\(/,
  ];
  const violations = sources
    .filter(({ path }) => path.startsWith("src/engine/") && !path.endsWith(".test.ts"))
    .flatMap(({ path, text }) =>
      banned.filter((pattern) => pattern.test(text)).map((pattern) => `${path}: ${pattern}`),
    );
  assert.deepEqual(violations, []);
});

test("no test is skipped or exclusive, and src has no console.log", () => {
  const violations = sources.flatMap(({ path, text }) => {
    const found: string[] = [];
    if (/\.(skip|todo|only)\(|\{ *(skip|todo|only): *true/.test(text))
      found.push(`${path}: skip/only`);
    if (!path.endsWith(".test.ts") && /console\.log\(/.test(text))
      found.push(`${path}: console.log`);
    return found;
  });
  assert.deepEqual(violations, []);
});

test("no enums, namespaces or default exports", () => {
  const violations = sources
    .filter(({ text }) => /^\s*(export )?(const )?enum |^\s*namespace |export default /m.test(text))
    .map(({ path }) => path);
  assert.deepEqual(violations, []);
});
