/**
 * CPU time of processes, for the benchmarks: the user and system seconds a
 * process used, read from the text of `/proc/<pid>/stat` and `/proc/stat`
 * (Linux), the difference between two readings, and how it is printed (share
 * of a core, seconds per 1,000 orders). Pure: the caller reads the files.
 */

/** CPU seconds a process (all its threads) spent in user and in kernel mode. */
export interface CpuTime {
  readonly userS: number;
  readonly systemS: number;
}

/** The whole machine's CPU seconds, summed over its cores: busy and in all. */
export interface MachineCpu {
  readonly busyS: number;
  readonly totalS: number;
}

/** What one reading of the stat files says. */
export interface CpuSnapshot {
  /** Per PID whose `/proc/<pid>/stat` line was in the text. */
  readonly processes: ReadonlyMap<number, CpuTime>;
  /** From `/proc/stat`'s `cpu` line; undefined when the text has none. */
  readonly machine: MachineCpu | undefined;
}

/**
 * Reads the concatenated text of `/proc/<pid>/stat` files and of `/proc/stat`
 * (in any order, as one `cat` prints them). Lines of neither kind are ignored.
 *
 * @param options.ticksPerSec the kernel's clock ticks per second (`getconf CLK_TCK`, 100 on Linux)
 */
export function parseCpuSnapshot(
  text: string,
  { ticksPerSec }: { ticksPerSec: number },
): CpuSnapshot {
  const processes = new Map<number, CpuTime>();
  let machine: MachineCpu | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) {
      machine = parseMachineLine(line, ticksPerSec);
      continue;
    }
    const parsed = parseProcessStat(line, { ticksPerSec });
    if (parsed !== undefined) processes.set(parsed.pid, parsed.cpu);
  }
  return { processes, machine };
}

/**
 * One `/proc/<pid>/stat` line: `pid (comm) state ppid …`, where utime and stime
 * are fields 14 and 15 in clock ticks and cover all the process's threads.
 * The command name may hold spaces and parentheses, so fields are counted from
 * the last ")". Undefined when the line is not one.
 */
export function parseProcessStat(
  line: string,
  { ticksPerSec }: { ticksPerSec: number },
): { pid: number; cpu: CpuTime } | undefined {
  const head = /^(\d+) \(/.exec(line);
  const close = line.lastIndexOf(")");
  if (head === null || close < 0) return undefined;
  // After ")": field 3 (state) is at index 0, so field n is at index n - 3.
  const fields = line.slice(close + 2).split(" ");
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) return undefined;
  return {
    pid: Number(head[1]),
    cpu: { userS: utime / ticksPerSec, systemS: stime / ticksPerSec },
  };
}

/** `/proc/stat`'s first line: `cpu user nice system idle iowait irq softirq steal …` in ticks. */
function parseMachineLine(line: string, ticksPerSec: number): MachineCpu | undefined {
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 5 || ticks.some((n) => !Number.isSafeInteger(n))) return undefined;
  // guest and guest_nice (fields 9, 10) are already counted in user and nice.
  const total = ticks.reduce((sum, n) => sum + n, 0);
  const idle = ticks[3]! + ticks[4]!;
  return { busyS: (total - idle) / ticksPerSec, totalS: total / ticksPerSec };
}

/** The CPU time used between two readings of the same process. */
export function cpuBetween(before: CpuTime, after: CpuTime): CpuTime {
  return { userS: after.userS - before.userS, systemS: after.systemS - before.systemS };
}

/** The sum of CPU times. */
export function cpuSum(times: readonly CpuTime[]): CpuTime {
  return {
    userS: times.reduce((sum, t) => sum + t.userS, 0),
    systemS: times.reduce((sum, t) => sum + t.systemS, 0),
  };
}

/** Node's `process.cpuUsage()` (microseconds) as a CpuTime. */
export function fromCpuUsage(usage: { user: number; system: number }): CpuTime {
  return { userS: usage.user / 1e6, systemS: usage.system / 1e6 };
}

/** CPU seconds (user + system) per 1,000 orders; 0 without orders. */
export function cpuSecondsPerThousand(cpu: CpuTime, orders: number): number {
  return orders > 0 ? ((cpu.userS + cpu.systemS) / orders) * 1000 : 0;
}

/**
 * CPU seconds per 1,000 orders, then user and system:
 * `0.052 s per 1,000 orders (user 0.046, sys 0.006)`. "-" without orders.
 */
export function cpuPerThousandText(cpu: CpuTime, orders: number): string {
  if (orders <= 0) return "- s per 1,000 orders (no orders)";
  const per = (s: number) => ((s / orders) * 1000).toFixed(3);
  return `${per(cpu.userS + cpu.systemS)} s per 1,000 orders (user ${per(cpu.userS)}, sys ${
    per(cpu.systemS)
  })`;
}

/** The share of one core that `cpu` is over `seconds` of wall time, e.g. `38.2%`. */
export function coreShareText(cpu: CpuTime, seconds: number): string {
  return seconds > 0 ? `${(((cpu.userS + cpu.systemS) / seconds) * 100).toFixed(1)}%` : "-";
}
