// Goal: processes are stopped by pid whatever state they are in (running, paused, ignoring
// SIGTERM), and a pid whose command line does not match is never signalled. Method: trivial
// `node -e` children; their state is read back from /proc.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { setTimeout } from "node:timers/promises";
import { isOurs, isRunning, pausePid, processState, resumePid, stopPid } from "./process.ts";

const children: number[] = [];

function child(script: string) {
  const proc = spawn(process.execPath, ["-e", script, "txgrid-process-test"], { stdio: "ignore" });
  assert.ok(proc.pid !== undefined);
  children.push(proc.pid);
  return proc.pid;
}

// Signals arrive asynchronously: poll /proc for the expected state, for at most 2 s.
async function stateBecomes(pid: number, matches: (state: string | null) => boolean) {
  for (let i = 0; i < 80 && !matches(processState(pid)); i++) await setTimeout(25);
  return processState(pid);
}

after(async () => {
  for (const pid of children) await stopPid(pid, { timeoutMs: 500 });
});

test("a running child stops on SIGTERM; a paused one is resumed first", async () => {
  const pid = child("setInterval(() => {}, 1000)");
  assert.ok(isRunning(pid));
  pausePid(pid);
  assert.equal(await stateBecomes(pid, (state) => state === "T"), "T");
  resumePid(pid);
  assert.notEqual(await stateBecomes(pid, (state) => state !== "T"), "T");
  pausePid(pid);
  assert.equal(await stopPid(pid, { expect: "txgrid-process-test" }), "terminated");
  assert.equal(isRunning(pid), false);
  assert.equal(await stopPid(pid), "not-running");
});

test("a child that ignores SIGTERM is killed after the timeout", async () => {
  const proc = spawn(
    process.execPath,
    ["-e", "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const pid = proc.pid ?? -1;
  children.push(pid);
  await new Promise((resolve) => proc.stdout?.once("data", resolve)); // its handler is installed
  assert.equal(await stopPid(pid, { timeoutMs: 300 }), "killed");
  assert.equal(isRunning(pid), false);
});

test("a pid whose command line does not match is left alone", async () => {
  const pid = child("setInterval(() => {}, 1000)");
  try {
    assert.equal(isOurs(pid, "some-other-program"), false);
    assert.equal(await stopPid(pid, { expect: "some-other-program" }), "not-running");
    assert.ok(isRunning(pid));
  } finally {
    await stopPid(pid);
  }
});
