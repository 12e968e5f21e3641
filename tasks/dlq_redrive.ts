/**
 * `deno task dlq:redrive`: sends dead letters back to the orders topic with
 * their original key and bytes, selected by `--class`, `--since`/`--until` or
 * `--source-offsets`; `--dry-run` counts what would be sent, by reason. Every
 * letter sent is recorded in `<DATA_DIR>/redrive/redriven.jsonl`, so a second
 * run never sends it again, and a run killed midway resumes without sending
 * any twice (lib/redrive.ts says how). SIGINT/SIGTERM stop it after the batch
 * in hand is recorded.
 *
 * Permissions: --allow-net to the brokers, --allow-env, read and write of the
 * redrive directory only.
 */
import { exitWhenDone } from "../lib/shutdown.ts";
import { loadConfig, optionList, optionSet, type OptionValues } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { setupLogging } from "../lib/logging.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { DEFAULT_BATCH_SIZE, runRedrive } from "../lib/redrive.ts";
import { RedriveLockedError } from "../lib/redrive_file.ts";
import { formatRedriveSummary, parseSelection } from "../lib/redrive_plan.ts";
import { installShutdown } from "../lib/shutdown.ts";

/** A batch in hand finishes well within this after a signal. */
const HARD_DEADLINE_MS = 30_000;

function stringOption(options: OptionValues, name: string): string | undefined {
  const value = options[name];
  return typeof value === "string" ? value : undefined;
}

function batchSize(options: OptionValues): number {
  const text = stringOption(options, "batch") ?? String(DEFAULT_BATCH_SIZE);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 10_000) {
    throw new RangeError(`Cannot read --batch: "${text}", expected an integer from 1 to 10000`);
  }
  return n;
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "dlq:redrive" });
  if (typeof config === "number") return config;
  const { options } = config;
  let selection;
  let batch;
  try {
    selection = parseSelection({
      classes: optionList(options, "class"),
      since: stringOption(options, "since"),
      until: stringOption(options, "until"),
      sourceOffsets: optionList(options, "source-offsets"),
      maxRedrives: stringOption(options, "max-redrives"),
    }, Date.now());
    batch = batchSize(options);
  } catch (error) {
    console.error(`${(error as Error).message} (deno task dlq:redrive --help lists the flags)`);
    return EXIT.badConfig;
  }
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "fatal" });
  const shutdown = installShutdown({
    hardDeadlineMs: HARD_DEADLINE_MS,
    onSignal: (signal, forced) =>
      console.error(
        forced ? `${signal} again: exiting now` : `${signal}: finishing the batch in hand`,
      ),
  });
  try {
    await awaitKafka(config, { oneShot: true });
    const summary = await runRedrive(config, {
      selection,
      dryRun: optionSet(options, "dry-run"),
      signal: shutdown.signal,
      batchSize: batch,
    });
    console.log(
      optionSet(options, "json") ? JSON.stringify(summary, null, 2) : formatRedriveSummary(summary),
    );
    return summary.interrupted ? EXIT.failure : EXIT.ok;
  } catch (error) {
    const message = (error as Error).message;
    console.error(
      error instanceof KafkaUnreachableError || error instanceof KafkaAccessError ||
        error instanceof RedriveLockedError
        ? message
        : shutdown.signal.aborted
        ? `Redrive of ${config.dlqTopic} interrupted: what was sent is recorded, run again to resume`
        : error instanceof SyntaxError
        // A damaged record: running again cannot help until it is repaired.
        ? `Cannot redrive ${config.dlqTopic}: the redrive record is damaged (${message}); move it aside (nothing in it is lost from Kafka) and run again`
        : `Cannot redrive ${config.dlqTopic}: ${message}; what was sent is recorded, run again to resume`,
    );
    return EXIT.failure;
  } finally {
    shutdown.dispose();
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}
