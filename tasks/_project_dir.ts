/** The project root (where deno.json is), for tasks that run from anywhere. */
import { dirname } from "node:path";

export const PROJECT_DIR: string = dirname(import.meta.dirname!);
