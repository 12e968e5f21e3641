/** The assertions the tests use, from node:assert/strict with Deno std's names. */
import assert from "node:assert/strict";

export { assert };
export const assertEquals: typeof assert.deepStrictEqual = assert.deepStrictEqual;
export const assertMatch: typeof assert.match = assert.match;
export const assertRejects: typeof assert.rejects = assert.rejects;
export const assertThrows: typeof assert.throws = assert.throws;
export const assertNotEquals: typeof assert.notDeepStrictEqual = assert.notDeepStrictEqual;
