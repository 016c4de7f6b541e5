// Goal: the bench reads the CPU a process last ran on from the right field of /proc/<pid>/stat,
// even when the command name holds spaces and parentheses, and sampling never throws. Method:
// stat lines written by hand with a known `processor` field (39), and samplers aimed at this
// process (which exists) and at a pid that does not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lastCpuOf, PlacementSampler } from "./placement.ts";

/** A stat line whose fields after the command are 3, 4, ... with `processor` (39) = cpu. */
function statLine(command: string, cpu: number): string {
  const fields: number[] = [];
  for (let field = 3; field <= 52; field++) fields.push(field === 39 ? cpu : 1000 + field);
  return `4242 (${command}) ${fields.join(" ").replace(/^1003/, "S")}\n`;
}

test("lastCpuOf reads field 39, counting from the last parenthesis", () => {
  assert.equal(lastCpuOf(statLine("node", 1)), 1);
  assert.equal(lastCpuOf(statLine("node", 0)), 0);
  assert.equal(lastCpuOf(statLine("a b) (c 7 8", 3)), 3);
  assert.equal(lastCpuOf(statLine(")", 5)), 5);
});

test("lastCpuOf refuses what is not a stat line", () => {
  assert.equal(lastCpuOf(""), null);
  assert.equal(lastCpuOf("4242 node S 1 2 3"), null);
  assert.equal(lastCpuOf("4242 (node) S 1 2 3"), null);
});

test("a sampler counts samples of live processes and skips a gone one", () => {
  const live = new PlacementSampler(process.pid);
  for (let sample = 0; sample < 5; sample++) live.sample();
  if (process.platform === "linux") {
    const summary = live.summary();
    assert.ok(summary !== null);
    assert.equal(summary.sampleCount, 5);
    assert.ok(summary.sameCpuCount >= 0 && summary.sameCpuCount <= 5);
  }
  // Above the kernel's pid limit (2^22): never a process.
  const gone = new PlacementSampler(2 ** 23);
  gone.sample();
  assert.equal(gone.summary(), null);
});
