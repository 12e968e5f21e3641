import { assertEquals } from "./assert.ts";
import {
  coreShareText,
  cpuBetween,
  cpuPerThousandText,
  cpuSecondsPerThousand,
  cpuSum,
  fromCpuUsage,
  parseCpuSnapshot,
  parseProcessStat,
} from "../lib/process_cpu.ts";

/** A `/proc/<pid>/stat` line with utime and stime (fields 14, 15) set. */
function statLine(pid: number, comm: string, utime: number, stime: number): string {
  return `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194304 100 0 0 0 ${utime} ${stime} 7 8 ` +
    "20 0 12 0 2436415 3133440 412 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
}

Deno.test({
  name: "a process's user and system time come from fields 14 and 15 of its stat line",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, string, { pid: number; userS: number; systemS: number }]> = [
      ["a plain name", statLine(4242, "deno", 1234, 56), {
        pid: 4242,
        userS: 12.34,
        systemS: 0.56,
      }],
      [
        "a name with spaces and parentheses",
        statLine(7, "a (weird) name", 100, 0),
        { pid: 7, userS: 1, systemS: 0 },
      ],
      [
        "a line as Linux writes it",
        "29529 (cat) R 29527 29527 13483 0 -1 4194304 100 0 0 0 3 1 0 0 20 0 1 0 2436415 3133440 " +
        "412 18446744073709551615 93853779042304 93853779062185 140729619446528 0 0 0 0 0 0 0 0 0 " +
        "17 0 0 0 0 0 0 93853779078192 93853779079808 93854109196288 140729619454658 0",
        { pid: 29529, userS: 0.03, systemS: 0.01 },
      ],
    ];
    for (const [what, line, { pid, userS, systemS }] of cases) {
      await t.step(what, () => {
        assertEquals(parseProcessStat(line, { ticksPerSec: 100 }), {
          pid,
          cpu: { userS, systemS },
        });
      });
    }
    await t.step("not a stat line", () => {
      assertEquals(
        parseProcessStat("cat: /proc/1/stat: No such file", { ticksPerSec: 100 }),
        undefined,
      );
      assertEquals(parseProcessStat("12 (short) S 1 2", { ticksPerSec: 100 }), undefined);
      assertEquals(parseProcessStat("", { ticksPerSec: 100 }), undefined);
    });
  },
});

Deno.test({
  name: "one cat of several stat files gives each process's time and the machine's",
  permissions: "none",
  fn() {
    const text = [
      statLine(10, "tracker", 500, 50),
      "cat: /proc/11/stat: No such file or directory",
      "cpu  1311333 0 159461 3337753 13427 0 24052 23764 0 0",
      "cpu0 655000 0 80000 1668000 6700 0 12000 11800 0 0",
      statLine(12, "java", 2000, 300),
      "",
    ].join("\n");
    const snapshot = parseCpuSnapshot(text, { ticksPerSec: 100 });
    assertEquals([...snapshot.processes.keys()], [10, 12]);
    assertEquals(snapshot.processes.get(10), { userS: 5, systemS: 0.5 });
    assertEquals(snapshot.processes.get(12), { userS: 20, systemS: 3 });
    // busy = user + nice + system + irq + softirq + steal; idle and iowait are not.
    const busy = 1311333 + 159461 + 24052 + 23764;
    const total = busy + 3337753 + 13427;
    assertEquals(snapshot.machine, { busyS: busy / 100, totalS: total / 100 });
    assertEquals(parseCpuSnapshot(statLine(1, "x", 1, 1), { ticksPerSec: 100 }).machine, undefined);
  },
});

Deno.test({
  name: "CPU between readings is printed per 1,000 orders and as a share of one core",
  permissions: "none",
  fn() {
    const used = cpuBetween({ userS: 10, systemS: 1 }, { userS: 14.6, systemS: 1.6 });
    assertEquals(
      cpuPerThousandText(used, 100_000),
      "0.052 s per 1,000 orders (user 0.046, sys 0.006)",
    );
    assertEquals(coreShareText(used, 10), "52.0%");
    assertEquals(coreShareText(used, 0), "-");
    assertEquals(cpuPerThousandText(used, 0), "- s per 1,000 orders (no orders)");
    assertEquals(cpuSecondsPerThousand(used, 100_000).toFixed(3), "0.052");
    assertEquals(cpuSecondsPerThousand(used, 0), 0);
    assertEquals(cpuSum([{ userS: 1, systemS: 2 }, { userS: 3, systemS: 4 }]), {
      userS: 4,
      systemS: 6,
    });
    assertEquals(fromCpuUsage({ user: 1_500_000, system: 250_000 }), { userS: 1.5, systemS: 0.25 });
  },
});
