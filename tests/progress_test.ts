import assert from "node:assert/strict";
import { megabytes, progressLine } from "../tasks/_progress.ts";
import { mavenDownload } from "../tasks/_broker_providers.ts";

Deno.test(
  "a progress line is redrawn at most four times a second and ends with a newline",
  { permissions: "none" },
  () => {
    let now = 0;
    const written: string[] = [];
    const line = progressLine({ enabled: true, write: (t) => written.push(t), now: () => now });
    line.update("Reading 1 of 10 MB");
    now = 100;
    line.update("Reading 2 of 10 MB"); // Too soon: skipped.
    now = 300;
    line.update("Reading 9 of 10 MB");
    line.done("Read 10 MB");
    line.update("late");
    assert.deepEqual(written, [
      "\rReading 1 of 10 MB",
      "\rReading 9 of 10 MB",
      "\rRead 10 MB        \n",
    ]);
  },
);

Deno.test("a progress line off a terminal writes nothing", { permissions: "none" }, () => {
  const written: string[] = [];
  const line = progressLine({ enabled: false, write: (t) => written.push(t) });
  line.update("Reading");
  line.done("Read");
  assert.deepEqual(written, []);
  assert.equal(megabytes(12_345_678), "12.3 MB");
});

Deno.test("Maven's download lines give their sizes", { permissions: "none" }, () => {
  assert.equal(
    mavenDownload(
      "Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar (6.2 MB at 12 MB/s)",
    ),
    6_200_000,
  );
  assert.equal(
    mavenDownload("[INFO] Downloaded from central: https://x/y.pom (1.5 kB at 30 kB/s)"),
    1_500,
  );
  assert.equal(mavenDownload("Downloading from central: https://x/y.jar"), undefined);
  assert.equal(mavenDownload("[INFO] BUILD SUCCESS"), undefined);
});
