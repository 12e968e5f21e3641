/**
 * The one way orchestration tasks run other programs: an argument list (never
 * a shell string), output captured, an optional timeout, and errors that carry
 * the end of the program's output so a failure explains itself.
 */

/** A program exited non-zero; the message ends with the tail of its output. */
export class CommandError extends Error {
  override name = "CommandError";
}

export interface CommandResult {
  code: number;
  /** stdout followed by stderr. */
  output: string;
}

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Kills the program (SIGTERM) when aborted. */
  signal?: AbortSignal;
  /** Told each line of stdout as it comes (for progress); the output is still returned. */
  onLine?: (line: string) => void;
}

/**
 * Runs a program to completion.
 *
 * @throws {Deno.errors.NotFound} when it is not installed; an AbortError on timeout
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const { onLine } = options;
  if (onLine !== undefined) return await runStreaming(command, args, { ...options, onLine });
  const { code, stdout, stderr } = await piped(command, args, options).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** A program with stdout and stderr piped, no stdin, and the options' directory, env and timeout. */
function piped(
  command: string,
  args: readonly string[],
  { cwd, env, timeoutMs, signal }: CommandOptions,
): Deno.Command {
  const stops = [
    ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : []),
    ...(signal ? [signal] : []),
  ];
  return new Deno.Command(command, {
    args: [...args],
    ...(cwd ? { cwd } : {}),
    ...(env ? { env } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(stops.length > 0 ? { signal: AbortSignal.any(stops) } : {}),
  });
}

async function runStreaming(
  command: string,
  args: readonly string[],
  options: CommandOptions & { onLine: (line: string) => void },
): Promise<CommandResult> {
  const { onLine } = options;
  const child = piped(command, args, options).spawn();
  const errors = new Response(child.stderr).text();
  let stdout = "";
  let partial = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    stdout += chunk;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  if (partial !== "") onLine(partial);
  const { code } = await child.status;
  return { code, output: stdout + await errors };
}

/**
 * Runs a program that must succeed and returns its output.
 *
 * @param what the action, for the error: "Cannot fetch the Kafka broker"
 * @throws {CommandError} "<what>: <command> exited with <code>" and the output's last lines
 */
export async function runChecked(
  what: string,
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<string> {
  const { code, output } = await runCommand(command, args, options);
  if (code !== 0) {
    throw new CommandError(`${what}: ${command} exited with ${code}\n${errorTail(output)}`);
  }
  return output;
}

/** Whether a program runs and exits 0 (false when missing, not allowed or too slow). */
export async function commandWorks(
  command: string,
  args: readonly string[],
  timeoutMs = 5_000,
): Promise<boolean> {
  try {
    return (await runCommand(command, args, { timeoutMs })).code === 0;
  } catch {
    return false;
  }
}

/** The last lines of some output, indented and marked, for an error message. */
export function errorTail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).map((l) => `  | ${l}`).join("\n");
}
