/**
 * What the tests of the KafkaJS patches share: a class of another shape than
 * a patch relies on is refused, with an error naming what differs.
 */
import { assertMatch, assertThrows } from "./assert.ts";

/**
 * Asserts that `shapeProblem` names `why` for each case and that `patch`
 * refuses it with "Cannot patch KafkaJS's <part>: ..." naming it and the
 * version the patch is written for; one test step per case.
 */
export async function assertRefusedShapes(
  t: Deno.TestContext,
  { part, shapeProblem, patch, cases }: {
    part: string;
    shapeProblem: (patched: unknown) => string | undefined;
    patch: (patched: unknown) => void;
    cases: ReadonlyArray<readonly [string, unknown, RegExp]>;
  },
): Promise<void> {
  for (const [name, patched, why] of cases) {
    await t.step(name, () => {
      assertMatch(shapeProblem(patched) ?? "", why);
      assertThrows(
        () => patch(patched),
        (error: unknown) =>
          error instanceof Error &&
          error.message.startsWith(`Cannot patch KafkaJS's ${part}: `) &&
          why.test(error.message) && /kafkajs 2\.2\.4/.test(error.message),
      );
    });
  }
}
