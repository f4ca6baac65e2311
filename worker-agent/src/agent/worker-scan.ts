// The workers a drain signals: the verified PID files of the agent's topic, never the agent
// itself, its ancestors or PID 1. Stale and gone files are removed (DESIGN "PID files"). What is
// wrong with a file is logged once per version of it: a drain rescans at every directory event
// and poll, and a planted file would otherwise fill the log.

import type { ListenConfig } from '../commands/config.js';
import type { Logger } from '../common/log.js';
import { type RegisteredWorker, scanWorkers } from '../pid-files/registry.js';
import { removeIfUnchanged } from '../pid-files/store.js';
import { ProtectedProcesses } from '../common/signals.js';

export type VerifiedWorker = RegisteredWorker & { verification: { status: 'verified' } };

export class WorkerScanner {
  /** `<event> <path>` → the version of the file it was logged for. */
  private readonly logged = new Map<string, string>();

  constructor(
    private readonly config: Pick<ListenConfig, 'pidDir' | 'topic' | 'legacySignals' | 'intakeFlag'>,
    private readonly log: Logger,
    private readonly protect = new ProtectedProcesses(),
  ) {}

  get protectedProcesses(): ProtectedProcesses {
    return this.protect;
  }

  scan(): VerifiedWorker[] {
    const { config } = this;
    const scan = scanWorkers(config.pidDir, { topic: config.topic, legacyConvention: config.legacySignals });
    const seen = new Set<string>();
    const once = (event: string, path: string, version: string, fields: Record<string, unknown>) => {
      const key = `${event} ${path}`;
      seen.add(key);
      if (this.logged.get(key) === version) return;
      this.logged.set(key, version);
      this.log.warn(event, { path, ...fields });
    };
    for (const invalid of scan.invalid) {
      once('pid-file-invalid', invalid.path, invalid.version ?? invalid.error.message, { field: invalid.error.field, error: invalid.error.message });
    }
    const verified: VerifiedWorker[] = [];
    for (const worker of scan.mine) {
      const { entry, verification: v } = worker;
      const version = `${entry.ino}:${entry.mtimeMs}`;
      if (v.status === 'untrusted') {
        once('pid-file-untrusted', entry.path, version, { pid: worker.pid, uid: entry.uid, reason: v.reason });
        continue;
      }
      if (v.status !== 'verified') {
        once('pid-file-stale', entry.path, version, { pid: worker.pid, status: v.status, reason: v.reason });
        try {
          removeIfUnchanged(entry);
        } catch (err) {
          once('pid-file-not-removed', entry.path, version, { error: (err as Error).message });
        }
        continue;
      }
      const refused = this.protect.reason(worker.pid, v.stat.startTime);
      if (refused !== undefined) {
        once('pid-file-protected', entry.path, version, { pid: worker.pid, reason: `names ${refused}: never signalled` });
        continue;
      }
      if (worker.intakeFile !== undefined && worker.intakeFile !== config.intakeFlag) {
        // Read for compatibility, never obeyed: the agent writes only its own flag.
        once('pid-file-intake-file-ignored', entry.path, version, { intakeFile: worker.intakeFile, intakeFlag: config.intakeFlag });
      }
      verified.push(worker as VerifiedWorker);
    }
    for (const key of this.logged.keys()) if (!seen.has(key)) this.logged.delete(key);
    return verified;
  }
}
