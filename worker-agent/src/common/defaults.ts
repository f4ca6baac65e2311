// Defaults shared by the agent and the worker libraries (the Python library mirrors them).

import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

type Env = Record<string, string | undefined>;

/** `WORKFORCE_PID_DIR`, else ai4s-jobq's `JOBQ_PID_DIR`, else `$TMPDIR/workforce/pids`. */
export function defaultPidDir(env: Env): string {
  return nonEmpty(env['WORKFORCE_PID_DIR']) ?? nonEmpty(env['JOBQ_PID_DIR']) ?? join(tmpdir(), 'workforce', 'pids');
}

/**
 * `<parent of pidDir>/intake/<topic>.intake-stopped`: both sides know the PID directory and the
 * topic. Beside the PID directory, not in it: the intake directory is the agent's own, which
 * workers can read but not write (DESIGN "Intake stop").
 */
export function defaultIntakeFlagPath(pidDir: string, topic: string): string {
  return join(dirname(pidDir), 'intake', `${topic.replace(/[^A-Za-z0-9._-]/g, '_')}.intake-stopped`);
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
