/**
 * The one writer of the audit trail, shared by the batches the tracker audits
 * at once (one per partition of a fetch). Chunks handed to it while a write
 * runs are written together: their dead letters first, then one append and
 * one fdatasync for all of them, in the order they were handed over (so each
 * partition's records stay in offset order).
 *
 * It also counts the chunks planned into the tracker's state and not yet on
 * disk: a checkpoint taken while one of them exists would count its records
 * as audited, and a crash would then skip them. The trail checkpoints only
 * when the chunks just synced are all there are. When a due checkpoint has
 * been refused a few times in a row (batches of several brokers' fetches keep
 * overlapping), new chunks wait until the writer has drained, so it is taken.
 */
import type { AuditTrail } from "./audit_trail.ts";
import type { AuditRecord } from "./audit_record.ts";
import type { DeadLetterMessage } from "./dead_letter.ts";
import { Coalescer } from "./coalescer.ts";

/** A due checkpoint refused this many times in a row holds new chunks back until it is taken. */
export const REFUSALS_BEFORE_HOLD = 4;

/** What a planned chunk has to write. */
export interface ChunkWrite {
  records: readonly AuditRecord[];
  deadLetters: readonly DeadLetterMessage[];
}

/** A chunk about to be planned into the state: it is either written or given up unused. */
export interface PlannedSlot {
  /** Writes the chunk planned in this slot; resolves once it is synced. */
  write(chunk: ChunkWrite): Promise<void>;
  /** The chunk was not planned into the state after all (nothing of it applied). */
  unused(): void;
}

export class AuditWriter {
  /** Chunks planned (or being planned) into the state whose records are not yet appended. */
  #unwritten = 0;
  /** Slots taken and neither written nor given up: chunks being planned. */
  #open = 0;
  /** Due checkpoints refused in a row. */
  #refused = 0;
  /** New slots wait for this while a refused checkpoint waits for the writer to drain. */
  #hold: PromiseWithResolvers<void> | undefined;
  readonly #writes: Coalescer<ChunkWrite>;

  /**
   * @param trail where the records go
   * @param publish sends dead letters; resolves once the broker has them
   */
  constructor(
    trail: Pick<AuditTrail, "append">,
    publish: (deadLetters: readonly DeadLetterMessage[]) => Promise<void>,
  ) {
    this.#writes = new Coalescer(async (chunks) => {
      const deadLetters = chunks.length === 1
        ? chunks[0]!.deadLetters
        : chunks.flatMap((c) => c.deadLetters);
      try {
        if (deadLetters.length > 0) await publish(deadLetters);
        const records = chunks.length === 1 ? chunks[0]!.records : chunks.flatMap((c) => c.records);
        // Asked once synced, when a checkpoint is due: any chunk planned
        // meanwhile forbids it.
        await trail.append(records, { checkpoint: () => this.#allowCheckpoint(chunks.length) });
      } catch (error) {
        // The count stays up: no checkpoint is written again. Held slots go
        // on, to fail at their write.
        this.#release();
        throw error;
      }
      this.#unwritten -= chunks.length;
      if (this.#unwritten === 0) this.#release();
    }, {
      sticky: true,
      // Another batch is planning a chunk in this turn (the partitions of a
      // fetch come together): its chunk joins this append and fdatasync.
      gather: () => this.#open > 0,
    });
  }

  #allowCheckpoint(synced: number): boolean {
    if (this.#unwritten === synced) {
      this.#refused = 0;
      return true;
    }
    if (++this.#refused >= REFUSALS_BEFORE_HOLD) this.#hold ??= Promise.withResolvers();
    return false;
  }

  #release(): void {
    this.#refused = 0;
    this.#hold?.resolve();
    this.#hold = undefined;
  }

  /**
   * Takes a slot before a chunk is planned into the state (after a refused
   * checkpoint, once the writer has drained). A slot not yet written or given
   * up keeps checkpoints from being taken.
   */
  async slot(): Promise<PlannedSlot> {
    while (this.#hold !== undefined) await this.#hold.promise;
    this.#unwritten++;
    this.#open++;
    let open = true;
    const close = () => {
      if (!open) throw new Error("Cannot use a planned slot twice");
      open = false;
      this.#open--;
    };
    return {
      write: (chunk) => {
        close();
        return this.#writes.submit(chunk);
      },
      unused: () => {
        close();
        this.#unwritten--;
        if (this.#unwritten === 0) this.#release();
      },
    };
  }

  /** Chunks planned into the state and not yet on disk. */
  get unwritten(): number {
    return this.#unwritten;
  }

  /** Whether new slots wait for a refused checkpoint. */
  get holding(): boolean {
    return this.#hold !== undefined;
  }
}
