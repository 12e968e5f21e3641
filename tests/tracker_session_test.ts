/**
 * Unit: the failure of a commit nothing waited for (tracker_session.ts) —
 * taken once by the next batch, forgotten after a rejoin.
 */
import { assertEquals } from "./assert.ts";
import { FailureSinceJoin } from "../lib/tracker_session.ts";

Deno.test("a commit failure is taken once by the next batch", () => {
  const failures = new FailureSinceJoin();
  failures.joined();
  assertEquals(failures.take(), undefined, "nothing failed");
  const error = new Error("The coordinator is not aware of this member");
  failures.failed(error, failures.join);
  assertEquals(failures.take(), error);
  assertEquals(failures.take(), undefined, "taken once");
});

Deno.test("a commit failure from before the latest join is forgotten", () => {
  const failures = new FailureSinceJoin();
  failures.joined();
  failures.failed(new Error("The group is rebalancing"), failures.join);
  failures.joined();
  assertEquals(failures.take(), undefined, "the rejoin already happened");
  const after = new Error("Connection timeout");
  failures.failed(after, failures.join);
  assertEquals(failures.take(), after);
});

Deno.test("a commit asked for before a join that fails after it is stale", () => {
  const failures = new FailureSinceJoin();
  failures.joined();
  const asked = failures.join;
  failures.joined(); // The rebalance the commit lost to.
  failures.failed(new Error("The coordinator is not aware of this member"), asked);
  assertEquals(failures.take(), undefined);
});
