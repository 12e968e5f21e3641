/**
 * Integration: the clients' TLS and SASL settings against the test broker's
 * SASL_SSL listener (TEST_KAFKA_PORT+2; its CA, user and password are made when
 * `deno task test` formats the broker). The pipeline runs through it with each
 * mechanism and password source; a wrong password or an untrusted certificate
 * ends a command, and the long-running tracker and producer, with one line
 * naming the setting, exit 1, within seconds.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  tempDataDir,
  testSaslSslListener,
  waitFor,
} from "./support.ts";
import type { Role } from "../lib/permissions.ts";
import { runChecked } from "../tasks/_command.ts";

const listener = testSaslSslListener();
const ignore = listener === undefined;

Deno.test({
  name:
    "orders flow through the SASL_SSL listener: SCRAM with a client certificate, SCRAM from a file, PLAIN from the environment",
  ignore,
  async fn() {
    const { env, files } = listener!;
    const password = (await Deno.readTextFile(files.passwordFile)).trim();
    const { topic, work, env: pipeline, acksLog } = await setupPipeline("secure");
    const secure = { ...pipeline, ...env };
    const count = 300;
    const tracker = spawnEntry("tracker", { env: secure });
    try {
      const producer = spawnEntry("producer", {
        env: {
          ...secure,
          KAFKA_TLS_CERT_FILE: files.clientCert,
          KAFKA_TLS_KEY_FILE: files.clientKey,
        },
        args: ["--count", String(count), "--rate", "0", "--acks-log", acksLog],
      });
      assertEquals((await producer.exited).code, 0, producer.output());
      assertMatch(producer.output(), new RegExp(`${count} acknowledged, 0 failed`));
      const auditFile = join(pipeline.DATA_DIR, "tracker.events");
      const audited = await waitFor("the orders in the audit trail", async () => {
        const records = await readAuditRecords(auditFile);
        return records.length >= count ? records : undefined;
      }, { timeoutMs: 60_000 });
      assertEquals(audited.length, count);
      tracker.child.kill("SIGTERM");
      assertEquals((await tracker.exited).code, 0, tracker.output());

      const verify = spawnEntry("verify", {
        env: {
          ...secure,
          KAFKA_SASL_MECHANISM: "plain",
          KAFKA_SASL_PASSWORD_FILE: "",
          KAFKA_SASL_PASSWORD: password,
        },
        args: ["--json", "--acks-log", acksLog],
      });
      const verified = await verify.exited;
      const report = JSON.parse(verify.output().slice(verify.output().indexOf("{")));
      assertEquals([verified.code, report.problems], [0, []], verify.output());
      assertEquals(report.counts.audited, count);
      assertEquals(report.counts.acknowledged, count);
      assertEquals(report.counts.lost, 0);

      for (const entry of [tracker, producer, verify]) {
        assert(!entry.output().includes(password), "no process prints the password");
      }
      const logs = await Deno.readTextFile(join(pipeline.DATA_DIR, "tracker.log")) +
        await Deno.readTextFile(join(pipeline.DATA_DIR, "producer", "producer.log"));
      assert(!logs.includes(password), "no health log holds the password");
      assertMatch(logs, new RegExp(`"topic":"${topic}"`));
    } finally {
      try {
        tracker.child.kill("SIGKILL");
      } catch { /* already exited */ }
      await tracker.exited;
      await work.remove();
    }
  },
});

/** Runs `role` and checks that it ends with exit 1 and `expected` in one line, within seconds. */
async function failsAtOnce(
  role: Role,
  { env, args = [], expected, secret }: {
    env: Record<string, string>;
    args?: string[];
    expected: RegExp;
    secret?: string;
  },
): Promise<void> {
  const started = Date.now();
  const entry = spawnEntry(role, { env, args });
  const status = await entry.exited;
  const elapsed = Date.now() - started;
  const output = entry.output();
  assertEquals(status.code, 1, output);
  assert(elapsed < 15_000, `${role} gave up after ${elapsed} ms`);
  const said = output.split("\n").filter((line) => expected.test(line));
  assertEquals(said.length, 1, output);
  assertEquals(output.split("\n").filter((l) => l.includes("kafkajs")), [], output);
  if (secret) assert(!output.includes(secret), "the wrong password is not printed");
}

Deno.test({
  name:
    "a wrong password ends a command, the tracker and an endless producer with one line naming the settings",
  ignore,
  async fn(t) {
    const { env } = listener!;
    const data = await tempDataDir();
    const wrong = "not-the-password-42";
    const wrongFile = join(data.dir, "wrong-password");
    await Deno.writeTextFile(wrongFile, `${wrong}\n`);
    const port = env.KAFKA_BROKERS!.split(":")[1];
    const refused = (source: string) =>
      new RegExp(
        `Cannot authenticate to Kafka at 127\\.0\\.0\\.1:${port}: SASL SCRAM-SHA-512 authentication failed for user "order-tracking" \\(check KAFKA_SASL_USERNAME and ${source}\\)`,
      );
    const base = { ...env, DATA_DIR: data.dir, LOG_LEVEL: "info", CONNECT_TIMEOUT_MS: "30000" };
    try {
      await t.step("topics, password from a file", () =>
        failsAtOnce("topics", {
          env: { ...base, KAFKA_SASL_PASSWORD_FILE: wrongFile },
          expected: refused("KAFKA_SASL_PASSWORD_FILE"),
        }));
      await t.step("verify, password from the environment", () =>
        failsAtOnce("verify", {
          env: { ...base, KAFKA_SASL_PASSWORD_FILE: "", KAFKA_SASL_PASSWORD: wrong },
          expected: refused("KAFKA_SASL_PASSWORD"),
          secret: wrong,
        }));
      await t.step(
        "the tracker, which waits for an unreachable broker for ever",
        () =>
          failsAtOnce("tracker", {
            env: { ...base, KAFKA_SASL_PASSWORD_FILE: "", KAFKA_SASL_PASSWORD: wrong },
            expected: refused("KAFKA_SASL_PASSWORD"),
            secret: wrong,
          }),
      );
      await t.step("an endless producer", () =>
        failsAtOnce("producer", {
          env: { ...base, KAFKA_SASL_PASSWORD_FILE: wrongFile },
          expected: refused("KAFKA_SASL_PASSWORD_FILE"),
        }));
      const health = await Deno.readTextFile(join(data.dir, "tracker.log"));
      assertMatch(health, /"phase":"failed"/);
      assert(!health.includes(wrong), "the health log does not hold the password");
    } finally {
      await data.remove();
    }
  },
});

Deno.test({
  name: "a broker certificate from another CA, or from no CA the client knows, is one clear error",
  ignore,
  async fn(t) {
    const { env } = listener!;
    const data = await tempDataDir();
    const otherCa = join(data.dir, "other-ca.pem");
    // deno-fmt-ignore
    await runChecked("Cannot make a CA", "openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(data.dir, "other-ca.key"),
      "-out", otherCa, "-days", "2", "-subj", "/CN=another CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    ]);
    const port = env.KAFKA_BROKERS!.split(":")[1];
    const untrusted = (fix: string) =>
      new RegExp(
        `Cannot connect securely to Kafka at 127\\.0\\.0\\.1:${port}: the broker's certificate is not trusted: .* \\(${fix}\\)`,
      );
    const base = { ...env, DATA_DIR: data.dir, LOG_LEVEL: "info", CONNECT_TIMEOUT_MS: "30000" };
    try {
      await t.step("topics with another CA", () =>
        failsAtOnce("topics", {
          env: { ...base, KAFKA_TLS_CA_FILE: otherCa },
          expected: untrusted(`the CA in KAFKA_TLS_CA_FILE \\(${otherCa}\\) did not sign it`),
        }));
      await t.step("the tracker with the bundled CAs only", () =>
        failsAtOnce("tracker", {
          env: { ...base, KAFKA_TLS: "true", KAFKA_TLS_CA_FILE: "" },
          expected: untrusted("set KAFKA_TLS_CA_FILE to the CA that signed it"),
        }));
    } finally {
      await data.remove();
    }
  },
});
