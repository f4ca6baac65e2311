// The real ManagedIdentityCredential of one principal, for a test that needs several identities
// in one process. msal-node selects the managed-identity source once per process (a static), so
// a second identity cannot be had in the same process; each credential here runs in a child
// process whose environment is the principal's (`environmentFor`), as an App Service app's is,
// and answers getToken over IPC. Nothing is cached or changed on this side.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { IdentityEnvironment } from './issuer.js';

/** The subset of @azure/core-auth's TokenCredential the SDKs call. */
export interface ProcessCredential {
  getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number } | null>;
  /** Ends the child process. Idempotent. */
  close(): Promise<void>;
}

export interface ProcessCredentialOptions {
  /** `managed` (default): ManagedIdentityCredential; `default`: DefaultAzureCredential. */
  kind?: 'managed' | 'default';
}

const SCRIPT = fileURLToPath(new URL('../credential-process.mjs', import.meta.url));

interface Answer {
  id?: number;
  ready?: boolean;
  token?: string;
  expiresOnTimestamp?: number;
  error?: { name: string; message: string };
}

/** Starts the child and resolves once its credential is constructed. */
export async function startProcessCredential(environment: IdentityEnvironment, options: ProcessCredentialOptions = {}): Promise<ProcessCredential> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...environment, CREDENTIAL: options.kind ?? 'managed' };
  // Only the principal's own identity settings: nothing inherited may pick another credential.
  for (const name of ['AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'MSI_ENDPOINT', 'MSI_SECRET', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT']) {
    delete env[name];
  }
  const child: ChildProcess = fork(SCRIPT, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  let next = 1;
  let exited: Error | undefined;
  child.on('exit', (code, signal) => {
    exited = new Error(`the credential process exited (${signal ?? code})`);
    for (const p of pending.values()) p.reject(exited);
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => reject(exited));
    child.once('message', () => resolve());
  });
  child.on('message', (answer: Answer) => {
    const waiting = answer.id !== undefined ? pending.get(answer.id) : undefined;
    if (!waiting) return;
    pending.delete(answer.id!);
    waiting.resolve(answer);
  });

  let closing: Promise<void> | undefined;
  return {
    async getToken(scopes) {
      if (exited) throw exited;
      const id = next++;
      const answer = await new Promise<Answer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, scopes });
      });
      if (answer.error) {
        // The credential's own error, with its name (CredentialUnavailableError, …).
        const error = new Error(answer.error.message);
        error.name = answer.error.name;
        throw error;
      }
      return { token: answer.token!, expiresOnTimestamp: answer.expiresOnTimestamp! };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      });
      return closing;
    },
  };
}
