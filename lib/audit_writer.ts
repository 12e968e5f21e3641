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
 * when the chunks just synced are all there are.
 */
import type { AuditTrail } from "./audit_trail.ts";
import type { AuditRecord } from "./audit_record.ts";
import type { DeadLetterMessage } from "./dead_letter.ts";
import { Coalescer } from "./coalescer.ts";

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
      if (deadLetters.length > 0) await publish(deadLetters);
      const records = chunks.length === 1 ? chunks[0]!.records : chunks.flatMap((c) => c.records);
      // Asked once synced: any chunk planned meanwhile forbids the checkpoint.
      await trail.append(records, { checkpoint: () => this.#unwritten === chunks.length });
      this.#unwritten -= chunks.length;
      // After a failure the count stays up: no checkpoint is written again.
    }, {
      sticky: true,
      // Another batch is planning a chunk in this turn (the partitions of a
      // fetch come together): its chunk joins this append and fdatasync.
      gather: () => this.#open > 0,
    });
  }

  /**
   * Takes a slot before a chunk is planned into the state. A slot not yet
   * written or given up keeps checkpoints from being taken.
   */
  slot(): PlannedSlot {
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
      },
    };
  }

  /** Chunks planned into the state and not yet on disk. */
  get unwritten(): number {
    return this.#unwritten;
  }
}
