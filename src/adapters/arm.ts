// Thin adapter over @azure/arm-servicebus: get-or-create the entities a topic needs.

import { ServiceBusManagementClient } from '@azure/arm-servicebus';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { ArmSettings } from '../config.js';

export type EntityKind = 'topic' | 'subscription' | 'queue';

export interface EntityOutcome {
  kind: EntityKind;
  name: string;
  outcome: 'existed' | 'created';
  /** Settings of an entity that existed and differ from what we would have created (left as they are). */
  differences?: string[];
}

export class ArmError extends Error {
  constructor(readonly statusCode: number | undefined, readonly code: string | undefined, message: string) {
    super(message);
    this.name = 'ArmError';
  }
}

// The emulator accepts any bearer token; this one is only ever sent to a loopback endpoint (see config).
const emulatorToken: TokenCredential = {
  getToken: async () => ({ token: 'local-emulator', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** `credential`: instead of the settings' one (the local system provisions with its app's identity). */
export function armClient(settings: ArmSettings, credential?: TokenCredential): ServiceBusManagementClient {
  credential ??= settings.credential === 'emulator' ? emulatorToken : new DefaultAzureCredential();
  return new ServiceBusManagementClient(credential, settings.subscriptionId, {
    ...(settings.endpoint && { endpoint: settings.endpoint }),
    ...(settings.credentialScope && { credentialScopes: [settings.credentialScope] }),
    ...(settings.caCertificate && { tlsOptions: { ca: settings.caCertificate } }),
    // Provisioning is interactive: fail in seconds, not after the SDK's minutes of retries.
    retryOptions: { maxRetries: 2 },
  });
}

/** Normalises what the SDK throws (RestError or network errors) into an ArmError. */
export function armError(err: unknown): ArmError {
  const e = err as { statusCode?: number; code?: string; message?: string };
  const message = String(e?.message ?? err).split('\n')[0]!;
  return new ArmError(e?.statusCode, e?.code, message);
}

export async function getOrCreate<T extends object>(
  kind: EntityKind,
  name: string,
  get: () => Promise<T>,
  create: () => Promise<T>,
  wanted: Record<string, unknown>,
): Promise<EntityOutcome> {
  try {
    const existing = (await get()) as Record<string, unknown>;
    const differences = Object.entries(wanted)
      .filter(([k, v]) => existing[k] !== undefined && existing[k] !== v)
      .map(([k, v]) => `${k} is ${JSON.stringify(existing[k])} (we create ${JSON.stringify(v)})`);
    return { kind, name, outcome: 'existed', ...(differences.length > 0 && { differences }) };
  } catch (err) {
    if (armError(err).statusCode !== 404) throw armError(err);
  }
  try {
    await create();
  } catch (err) {
    throw armError(err);
  }
  return { kind, name, outcome: 'created' };
}
