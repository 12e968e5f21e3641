/**
 * What a benchmark makes to run (topics, groups, a data directory), claimed
 * in a file before it makes them, so that what a killed run leaves is found
 * and removed by the next benchmark on this machine. A run that ends removes
 * its own and drops its claim; one killed with SIGKILL (or by the OOM killer)
 * cannot, and its topics would fill the broker's disk run after run.
 *
 * A claim is a JSON file in `<STATE_DIR>/bench/claims/`, locked for as long
 * as its run lives: a claim no process holds the lock of is an orphan. Its
 * format is owned here (type, encoder, parser).
 */
import { join, resolve, sep } from "node:path";
import type { Config } from "../lib/config.ts";
import { deleteScratch } from "../lib/kafka.ts";

const CLAIM_FORMAT = "order-tracking/bench-claim";
const CLAIM_VERSION = 1;
const CLAIM_SUFFIX = ".json";

/** What one benchmark run makes, and on which cluster. */
export interface ScratchClaim {
  /** The brokers it was given: another cluster's orphans are left for a run there. */
  brokers: string[];
  topics: string[];
  groups: string[];
  /** Its scratch data directories. */
  dirs: string[];
}

/** A claim as its file holds it: one JSON line. */
export function encodeClaim(claim: ScratchClaim): string {
  return JSON.stringify({ format: CLAIM_FORMAT, version: CLAIM_VERSION, ...claim }) + "\n";
}

/** A claim file's text, or why it is not one. */
export function parseClaim(text: string): { ok: true; claim: ScratchClaim } | {
  ok: false;
  error: string;
} {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (typeof value !== "object" || value === null || value.format !== CLAIM_FORMAT) {
    return { ok: false, error: `not a ${CLAIM_FORMAT} record` };
  }
  if (value.version !== CLAIM_VERSION) {
    return { ok: false, error: `version ${String(value.version)}, expected ${CLAIM_VERSION}` };
  }
  const lists = ["brokers", "topics", "groups", "dirs"] as const;
  for (const name of lists) {
    const list = value[name];
    if (!Array.isArray(list) || !list.every((item) => typeof item === "string" && item !== "")) {
      return { ok: false, error: `field "${name}" is not a list of names` };
    }
  }
  const [brokers, topics, groups, dirs] = lists.map((name) => value[name] as string[]);
  return { ok: true, claim: { brokers: brokers!, topics: topics!, groups: groups!, dirs: dirs! } };
}

/** Whether two broker lists name the same cluster's bootstrap servers. */
export function sameBrokers(a: readonly string[], b: readonly string[]): boolean {
  const sorted = (list: readonly string[]) => [...new Set(list)].sort().join(",");
  return sorted(a) === sorted(b);
}

/** Where the claims of `config`'s state directory are. */
export function claimsDir(config: Pick<Config, "paths">): string {
  return join(config.paths.stateDir, "bench", "claims");
}

/** A run's claim, held until the run ends. */
export interface HeldClaim {
  /** The run removed what it made: the claim goes. */
  release(): Promise<void>;
  /** The run could not remove what it made: the claim stays, for the next run to. */
  leave(): void;
}

/**
 * Claims what a run is about to make. Written under a temporary name and
 * locked before it gets its own, so no other run takes it for an orphan.
 */
export async function claimScratch(dir: string, claim: ScratchClaim): Promise<HeldClaim> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${crypto.randomUUID()}${CLAIM_SUFFIX}`);
  const file = await Deno.open(`${path}.new`, { createNew: true, write: true });
  try {
    await file.lock(true);
    await file.write(new TextEncoder().encode(encodeClaim(claim)));
    await Deno.rename(`${path}.new`, path);
  } catch (error) {
    file.close();
    await Deno.remove(`${path}.new`).catch(() => {});
    throw error;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  return {
    async release() {
      if (closed) return;
      await Deno.remove(path).catch(() => {});
      close();
    },
    leave: close,
  };
}

/**
 * Removes what killed runs left on `config`'s cluster: every claim no live
 * run holds whose brokers are `config`'s. What cannot be removed now (a
 * group whose killed member's session has not ended) keeps its claim, for a
 * later run. Never fails: a benchmark runs on after a warning.
 *
 * @param say one line per orphan removed or kept
 */
export async function clearOrphans(
  config: Config,
  { clientId, say }: { clientId: string; say: (line: string) => void },
): Promise<void> {
  const dir = claimsDir(config);
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(CLAIM_SUFFIX)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      say(`Cannot look for what killed benchmarks left: ${(error as Error).message}`);
    }
    return;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch {
      continue; // Removed meanwhile by another run.
    }
    try {
      if (!(await file.tryLock(true))) continue; // Its run is alive.
      const parsed = parseClaim(await Deno.readTextFile(path));
      if (!parsed.ok) {
        say(`Removed ${path}, not a benchmark's claim: ${parsed.error}`);
        await Deno.remove(path).catch(() => {});
        continue;
      }
      const { claim } = parsed;
      if (!sameBrokers(claim.brokers, config.brokers)) continue;
      await clearOrphan(config, { path, claim, clientId, say });
    } catch (error) {
      say(`Cannot remove what a killed benchmark left (${path}): ${(error as Error).message}`);
    } finally {
      file.close();
    }
  }
}

async function clearOrphan(
  config: Config,
  { path, claim, clientId, say }: {
    path: string;
    claim: ScratchClaim;
    clientId: string;
    say: (line: string) => void;
  },
): Promise<void> {
  const list = (groups: boolean) =>
    [
      ...(claim.topics.length > 0 ? [`topics ${claim.topics.join(", ")}`] : []),
      ...(groups && claim.groups.length > 0 ? [`groups ${claim.groups.join(", ")}`] : []),
      ...claim.dirs.map((d) => `directory ${d}`),
    ].join("; ");
  await deleteScratch(config, { topics: claim.topics, clientId });
  // Only benchmarks' scratch directories, whatever the file says.
  const scratch = resolve(config.paths.stateDir, "bench") + sep;
  for (const dir of claim.dirs.filter((d) => resolve(d).startsWith(scratch))) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  try {
    await deleteScratch(config, { topics: [], groups: claim.groups, clientId });
  } catch (error) {
    // A killed member stays in its group until its session times out: asked again next run.
    await Deno.writeTextFile(path, encodeClaim({ ...claim, topics: [], dirs: [] }));
    const removed = list(false);
    say(
      `${removed ? `Removed what a killed benchmark left: ${removed}. ` : ""}Kept its groups ${
        claim.groups.join(", ")
      } for the next benchmark to delete: ${(error as Error).message}`,
    );
    return;
  }
  await Deno.remove(path);
  say(`Removed what a killed benchmark left: ${list(true)}`);
}
