import assert from "node:assert/strict";
import { test } from "node:test";
import { isAmbitError } from "../errors.js";
import { benchConfig, parseDuration } from "./options.js";

test("bench options: defaults, durations and lists", () => {
  const c = benchConfig({});
  assert.deepEqual(c.scenarios, ["direct", "ambient-l4", "ambient-l7", "sidecar", "sidecar-stunnel"]);
  assert.equal(c.rate, 1000);
  assert.equal(c.bodyBytes, 1024);
  assert.equal(c.iperfStreams, 4);
  assert.equal(benchConfig({ iperfStreams: "8" }).iperfStreams, 8);
  assert.deepEqual(c.pods, []);
  assert.equal(c.rounds, 1);
  assert.equal(benchConfig({ rounds: "3" }).rounds, 3);
  assert.equal(parseDuration("--duration", "500ms"), 0.5);
  assert.equal(parseDuration("--duration", "2m"), 120);
  assert.equal(parseDuration("--duration", "7"), 7);
  const d = benchConfig({ scenario: "direct, sidecar", pods: "10,50", duration: "3s", rate: "250" });
  assert.deepEqual(d.scenarios, ["direct", "sidecar"]);
  assert.deepEqual(d.pods, [10, 50]);
  assert.equal(d.seconds, 3);
  assert.equal(d.rate, 250);
});

test("bench options: bad values name the flag, the value and what fits", () => {
  const cases: [Parameters<typeof benchConfig>[0], RegExp][] = [
    [{ scenario: "ambient" }, /--scenario "ambient": expected one or more of direct/],
    [{ scenario: "direct,direct" }, /each scenario once/],
    [{ pods: "15" }, /--pods "15": expected an even number/],
    [{ pods: "ten" }, /--pods "ten": expected a whole number/],
    [{ duration: "fast" }, /--duration "fast": expected a duration/],
    [{ duration: "10h" }, /--duration "10h"/],
    [{ rate: "0" }, /--rate "0": expected a whole number from 1/],
    [{ connections: "-3" }, /--connections "-3"/],
    [{ iperfStreams: "1" }, /--iperf-streams "1": expected a whole number from 2 to 128/],
    [{ rounds: "0" }, /--rounds "0": expected a whole number from 1 to 20/],
    [{ rounds: "2.5" }, /--rounds "2.5": expected a whole number/],
  ];
  for (const [flags, re] of cases) {
    assert.throws(
      () => benchConfig(flags),
      (e: unknown) => isAmbitError(e, "BENCH_ERR_OPTION") && re.test((e as Error).message),
      JSON.stringify(flags),
    );
  }
});
