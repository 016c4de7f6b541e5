#!/usr/bin/env node
// Runs every compiled test file under dist/ with node:test and fails when none ran.
//
// Node 20 neither expands globs nor finds .ts files in a directory, and `node --test dir/`
// silently runs zero tests and exits 0. So the file list is built here, and the TAP summary
// is read back: a run that reports "# tests 0" (or no summary at all) is a failure.
//
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains one)
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function listTestFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...listTestFiles(path));
    else if (name.endsWith(".test.js")) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = ["dist/src", "dist/test"]
  .filter((dir) => {
    try {
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  })
  .flatMap(listTestFiles)
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (files.length === 0) {
  process.stderr.write("run-tests: no test files found under dist/ (did the build run?)\n");
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-reporter=tap", ...files],
  { stdio: ["ignore", "pipe", "inherit"] },
);
let tail = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString("utf8")).slice(-4096);
});
child.on("close", (code, signal) => {
  const tests = Number(/^# tests (\d+)$/m.exec(tail)?.[1] ?? 0);
  const failed = Number(/^# fail (\d+)$/m.exec(tail)?.[1] ?? 0);
  if (tests === 0) {
    process.stderr.write("run-tests: zero tests ran; this counts as a failure\n");
    process.exit(1);
  }
  process.stderr.write(`run-tests: ${files.length} files, ${tests} tests, ${failed} failed\n`);
  process.exit(code === 0 && signal === null && failed === 0 ? 0 : 1);
});
