/**
 * Unit: the test task's warning when the suite's ports fall in the range the
 * machine gives outgoing connections (where a client's connection may hold one).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { ephemeralPortWarning, testPortSpan } from "../tasks/test.ts";

Deno.test({
  name:
    "the suite's ports span the broker's, the tests' own listeners and the three-broker cluster",
  permissions: "none",
  fn() {
    assertEquals(testPortSpan(19092), { first: 19092, last: 19197 });
  },
});

Deno.test({
  name: "the test task warns when the suite's ports reach into the range of outgoing ports",
  permissions: "none",
  fn() {
    const linux = "32768\t60999\n";
    // Below it, the default and the fault runs' 29092: no warning.
    assertEquals(ephemeralPortWarning(19092, linux), undefined);
    assertEquals(ephemeralPortWarning(29092, linux), undefined);
    // The last port just below the range; one more reaches it with the cluster's +105.
    assertEquals(ephemeralPortWarning(32662, linux), undefined);
    assertMatch(
      ephemeralPortWarning(32663, linux)!,
      /TEST_KAFKA_PORT 32663 puts the tests' ports \(32663-32768\) in this machine's range for outgoing connections \(32768-60999\).*at most 32662/,
    );
    // Inside it (the run that once failed to bind 39194), and above it.
    assert(ephemeralPortWarning(39092, linux));
    assertEquals(ephemeralPortWarning(61000, linux), undefined);
    // A range starting low leaves only ports above it.
    assertMatch(ephemeralPortWarning(5000, "1024 60999")!, /between 61000 and 65430\.$/);
    assertMatch(ephemeralPortWarning(5000, "1024 65500")!, /No TEST_KAFKA_PORT leaves it/);
    // Not Linux, or not readable, or not of its shape: no warning.
    assertEquals(ephemeralPortWarning(39092, undefined), undefined);
    assertEquals(ephemeralPortWarning(39092, "any"), undefined);
  },
});
