/**
 * What a benchmark makes to run (topics, groups, scratch directories),
 * claimed in a file before it makes them, so that what a killed run leaves is
 * found and removed by the next benchmark on this machine. A run that ends
 * removes its own and drops its claim; one killed with SIGKILL (or by the OOM
 * killer) cannot, and its topics would fill the broker's disk run after run.
 *
 * A claim is a JSON file in `<STATE_DIR>/bench/claims/`, locked for as long
 * as its run lives: a claim no process holds the lock of is an orphan. Its
 * format is owned here (type, encoder, parser).
 */
import { join, resolve, sep } from "node:path";
import type { Config } from "../lib/config.ts";
import { TRACKER_LOCK_FILE_NAME } from "../lib/constants.ts";
import { deleteScratch } from "../lib/kafka.ts";

const CLAIM_FORMAT = "order-tracking/bench-claim";
const CLAIM_VERSION = 1;
const CLAIM_SUFFIX = ".json";
/** A claim being written; one a kill left this long ago made nothing yet and goes. */
const NEW_SUFFIX = ".new";
const STALE_NEW_MS = 60_000;

/** What one benchmark run makes, and on which cluster. */
export interface ScratchClaim {
  /** The brokers it was given: another cluster's orphans are left for a run there. */
  brokers: string[];
  topics: string[];
  groups: string[];
  /** Its scratch directories, under `<STATE_DIR>/bench/`. */
  dirs: string[];
}

/** What of a claim a run still owes: the parts it could not remove. */
export type ScratchParts = Omit<ScratchClaim, "brokers">;

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

/** The parts a claim names, for a message: `topics a, b; groups g; directory d`. */
export function partsText({ topics, groups, dirs }: ScratchParts): string {
  return [
    ...(topics.length > 0 ? [`topics ${topics.join(", ")}`] : []),
    ...(groups.length > 0 ? [`groups ${groups.join(", ")}`] : []),
    ...dirs.map((d) => `directory ${d}`),
  ].join("; ");
}

/** A run's claim, held until the run ends. */
export interface HeldClaim {
  /** The run removed what it made: the claim goes. */
  release(): Promise<void>;
  /**
   * The run could not remove all it made: the claim stays, unlocked, for the
   * next benchmark, naming only `owed` when given (not files kept on purpose).
   */
  leave(owed?: ScratchParts): Promise<void>;
}

/** Writes a claim file whole under a temporary name, then gives it `path` (atomic). */
async function writeClaim(path: string, claim: ScratchClaim): Promise<void> {
  await Deno.writeTextFile(`${path}${NEW_SUFFIX}`, encodeClaim(claim));
  await Deno.rename(`${path}${NEW_SUFFIX}`, path);
}

/**
 * Holds a new claim in `dir`: written whole and locked under a temporary
 * name (which no run takes for an orphan), then given its own.
 */
export async function holdClaim(dir: string, claim: ScratchClaim): Promise<HeldClaim> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${crypto.randomUUID()}${CLAIM_SUFFIX}`);
  await Deno.writeTextFile(`${path}${NEW_SUFFIX}`, encodeClaim(claim));
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(`${path}${NEW_SUFFIX}`, { read: true, write: true });
    await file.lock(true);
    await Deno.rename(`${path}${NEW_SUFFIX}`, path);
  } catch (error) {
    file?.close();
    await Deno.remove(`${path}${NEW_SUFFIX}`).catch(() => {});
    throw error;
  }
  const held = file;
  let closed = false;
  const close = () => {
    closed = true;
    held.close();
  };
  return {
    async release() {
      if (closed) return;
      await Deno.remove(path).catch(() => {});
      close();
    },
    async leave(owed) {
      if (closed) return;
      // Rewritten while still locked; the new file is the next run's once closed.
      if (owed !== undefined) await writeClaim(path, { brokers: claim.brokers, ...owed });
      close();
    },
  };
}

/** How a benchmark claims its scratch and reports what killed runs left. */
export interface ClaimOptions {
  clientId: string;
  /** One line per orphan removed, or kept and why. */
  say: (line: string) => void;
  /** Stops looking at orphans (a Ctrl+C). */
  signal?: AbortSignal;
}

/**
 * What a benchmark does before it makes anything: removes what killed runs
 * left on its cluster (`clearOrphans`), then claims what it is about to make.
 */
export async function claimScratch(
  config: Config,
  parts: ScratchParts,
  options: ClaimOptions,
): Promise<HeldClaim> {
  await clearOrphans(config, options);
  return await holdClaim(claimsDir(config), { brokers: [...config.brokers], ...parts });
}

/** What clearing an orphan does to Kafka (tests pass their own). */
export type DeleteScratch = typeof deleteScratch;

/**
 * Removes what killed runs left on `config`'s cluster: every claim no live
 * run holds whose brokers are `config`'s. What cannot be removed now (a
 * group whose killed member's session has not ended) stays claimed, for a
 * later run. Never fails: a benchmark runs on after a line that says why.
 */
export async function clearOrphans(
  config: Config,
  { clientId, say, signal, remove = deleteScratch }: ClaimOptions & { remove?: DeleteScratch },
): Promise<void> {
  const dir = claimsDir(config);
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      say(`Cannot look for what killed benchmarks left in ${dir}: ${(error as Error).message}`);
    }
    return;
  }
  for (const name of names.sort()) {
    if (signal?.aborted) return;
    const path = join(dir, name);
    if (name.endsWith(NEW_SUFFIX)) {
      await removeStaleNew(path);
      continue;
    }
    if (!name.endsWith(CLAIM_SUFFIX)) continue;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        say(`Cannot open ${path}: ${(error as Error).message}`);
      }
      continue; // Not found: another run cleared it meanwhile.
    }
    try {
      if (!(await file.tryLock(true))) continue; // Its run is alive.
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // Cleared meanwhile.
        throw error;
      }
      const parsed = parseClaim(text);
      if (!parsed.ok) {
        await Deno.remove(path);
        say(`Removed ${path}: not a benchmark's claim (${parsed.error})`);
        continue;
      }
      if (!sameBrokers(parsed.claim.brokers, config.brokers)) continue;
      await clearOrphan(config, { path, claim: parsed.claim, clientId, say, remove });
    } catch (error) {
      say(`Cannot remove what a killed benchmark left (${path}): ${(error as Error).message}`);
    } finally {
      file.close();
    }
  }
}

async function removeStaleNew(path: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (info?.mtime && Date.now() - info.mtime.getTime() > STALE_NEW_MS) {
    await Deno.remove(path).catch(() => {});
  }
}

/** Whether a tracker still holds the lock of its data directory `dir`. */
async function trackerRunsIn(dir: string): Promise<boolean> {
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(join(dir, TRACKER_LOCK_FILE_NAME), { write: true });
  } catch {
    return false; // No tracker has run there.
  }
  try {
    return !(await lock.tryLock(true));
  } finally {
    lock.close();
  }
}

async function clearOrphan(
  config: Config,
  { path, claim, clientId, say, remove }: {
    path: string;
    claim: ScratchClaim;
    clientId: string;
    say: (line: string) => void;
    remove: DeleteScratch;
  },
): Promise<void> {
  // Only benchmarks' scratch directories, whatever the file says; never the claims.
  const scratch = resolve(config.paths.stateDir, "bench") + sep;
  const claims = resolve(claimsDir(config));
  const dirs = claim.dirs.filter((d) => {
    const full = resolve(d);
    return full.startsWith(scratch) && full !== claims && !full.startsWith(claims + sep);
  });
  // A killed bench:e2e's tracker stops within a second or two of it: not under it.
  for (const dir of dirs) {
    if (await trackerRunsIn(dir)) {
      say(`Left what a killed benchmark claimed for a later run: its tracker still runs in ${dir}`);
      return;
    }
  }
  await remove(config, { topics: claim.topics, clientId });
  const owedDirs: string[] = [];
  const problems: string[] = [];
  for (const dir of dirs) {
    try {
      await Deno.remove(dir, { recursive: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      owedDirs.push(dir);
      problems.push(`Cannot remove its directory ${dir}: ${(error as Error).message}`);
    }
  }
  let owedGroups: string[] = [];
  try {
    await remove(config, { topics: [], groups: claim.groups, clientId });
  } catch (error) {
    // A killed member stays in its group until its session times out.
    owedGroups = claim.groups;
    problems.push(`Cannot delete its groups yet: ${(error as Error).message}`);
  }
  const done = partsText({
    topics: claim.topics,
    groups: owedGroups.length > 0 ? [] : claim.groups,
    dirs: dirs.filter((d) => !owedDirs.includes(d)),
  });
  const removed = done === "" ? "" : `Removed what a killed benchmark left: ${done}`;
  if (problems.length === 0) {
    await Deno.remove(path);
    if (removed !== "") say(removed);
    return;
  }
  await writeClaim(path, {
    brokers: claim.brokers,
    topics: [],
    groups: owedGroups,
    dirs: owedDirs,
  });
  say(
    [removed, ...problems].filter(Boolean).join(". ") + "; the next benchmark tries again",
  );
}
