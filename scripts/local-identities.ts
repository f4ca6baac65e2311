// Managed identities on this machine: the local token issuer (local/identity) with one identity
// per process of the local system, the roles each holds on the emulator's namespace (the README's
// least-privilege table), and the environment that makes @azure/identity in that process
// (ManagedIdentityCredential, or DefaultAzureCredential's managed-identity step) ask the issuer
// for its own identity's tokens, as App Service does for each app.

import path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import {
  newPrincipal,
  readIssuerState,
  startTokenIssuer,
  writeIssuerState,
  type IdentityEnvironment,
  type Principal,
  type PrincipalWithSecret,
  type TokenIssuer,
} from '@workforce/identity-emulator';
import type { EmulatorOptions } from '@workforce/servicebus-emulator';
import { commandsQueueName } from '@workforce/worker-agent/contract';
import { REPORTS_QUEUE, SHUTDOWN_SUBSCRIPTION } from '../src/config.js';

/** The app's identity (the Functions host and its language worker). */
export const APP_IDENTITY = 'app';
/** The operator's `workforce send --namespace`. */
export const OPERATOR_IDENTITY = 'operator';
/** The identity of a topic's agents (one user-assigned identity per node pool). */
export const agentIdentity = (topic: string): string => `agent-${topic}`;

/** The audience of ARM tokens in Azure's public cloud, the one the emulator's ARM endpoint stands in for. */
export const ARM_SCOPE = 'https://management.azure.com/.default';

export interface IdentityOptions {
  /** The topics whose agents get an identity (roles: roleAssignmentsFor); the operator gets Sender on each. */
  agentTopics: readonly string[];
  /**
   * Where the issuer's key and the identities (ids, secrets) are kept (`.data/identity`), so that
   * they stay the same across restarts; none: new ones at each start.
   */
  stateDir?: string;
  /** The issuer's port on 127.0.0.1 (IDENTITY_ENDPOINT names it); default 0, a free one. */
  port?: number;
  /**
   * Changes the least-privilege assignments (roleAssignmentsFor) the emulator is given, with the
   * object id of each identity by name: a test of a missing role.
   */
  adjustRoles?: (assignments: RoleAssignment[], objectIdOf: (name: string) => string) => RoleAssignment[];
}

export interface LocalIdentities {
  readonly issuer: TokenIssuer;
  readonly principals: readonly Principal[];
  readonly roleAssignments: readonly RoleAssignment[];
  /** The environment of the process that runs as `name` (APP_IDENTITY, OPERATOR_IDENTITY, agentIdentity(topic)). */
  environmentFor(name: string): IdentityEnvironment;
  /** The app's ARM token, for the provisioning the local system does on its behalf before the app starts. */
  appArmCredential(): TokenCredential;
  close(): Promise<void>;
}

export type RoleAssignment = NonNullable<EmulatorOptions['entra']>['roleAssignments'][number];

/** The issuer's state in `stateDir` (local/identity state-file.ts). */
const STATE_FILE = 'issuer.json';

const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/;

/**
 * The roles of the README's "Identities and least-privilege roles", one assignment each:
 * - the app: Contributor on the namespace (provisioning through ARM; no data rights), Data Sender
 *   on the namespace (it publishes on topics and commands queues it creates), Data Receiver on the
 *   reports queue and on each topic's `shutdown` subscription and commands queue (a cancel
 *   withdraws untaken messages and commands);
 * - a topic's agents: Data Receiver on its `shutdown` subscription and its commands queue (their
 *   node's session), Data Sender on the reports queue;
 * - the operator's `workforce send`: Data Sender on each topic.
 * The app's Receiver rights are per topic, so a cancel on a topic not listed here cannot withdraw.
 */
export function roleAssignmentsFor(principals: ReadonlyMap<string, Principal>, topics: readonly string[]): RoleAssignment[] {
  const oid = (name: string): string => principals.get(name)!.objectId;
  const app = oid(APP_IDENTITY);
  return [
    { principalId: app, role: 'Contributor', scope: '/' },
    { principalId: app, role: 'Azure Service Bus Data Sender', scope: '/' },
    { principalId: app, role: 'Azure Service Bus Data Receiver', scope: `queues/${REPORTS_QUEUE}` },
    ...topics.flatMap((topic): RoleAssignment[] => [
      { principalId: app, role: 'Azure Service Bus Data Receiver', scope: `topics/${topic}/subscriptions/${SHUTDOWN_SUBSCRIPTION}` },
      { principalId: app, role: 'Azure Service Bus Data Receiver', scope: `queues/${commandsQueueName(topic)}` },
      { principalId: oid(OPERATOR_IDENTITY), role: 'Azure Service Bus Data Sender', scope: `topics/${topic}` },
      { principalId: oid(agentIdentity(topic)), role: 'Azure Service Bus Data Receiver', scope: `topics/${topic}/subscriptions/${SHUTDOWN_SUBSCRIPTION}` },
      { principalId: oid(agentIdentity(topic)), role: 'Azure Service Bus Data Receiver', scope: `queues/${commandsQueueName(topic)}` },
      { principalId: oid(agentIdentity(topic)), role: 'Azure Service Bus Data Sender', scope: `queues/${REPORTS_QUEUE}` },
    ]),
  ];
}

export async function startLocalIdentities(options: IdentityOptions): Promise<LocalIdentities> {
  const bad = options.agentTopics.find((t) => !TOPIC.test(t));
  if (bad !== undefined) throw new Error(`identities: agent topic ${JSON.stringify(bad)} is not a topic name`);
  const names = [APP_IDENTITY, OPERATOR_IDENTITY, ...options.agentTopics.map(agentIdentity)];
  const stateFile = options.stateDir === undefined ? undefined : path.join(options.stateDir, STATE_FILE);
  const saved = stateFile === undefined ? undefined : await readIssuerState(stateFile);
  // The identities of earlier runs keep their ids and secrets; new names get new ones.
  const principals = new Map<string, PrincipalWithSecret>(names.map((name) => [name, saved?.principals.find((p) => p.name === name) ?? newPrincipal(name)]));
  const issuer = await startTokenIssuer({
    principals: [...principals.values()],
    ...(saved && { tenantId: saved.tenantId, signingKey: saved.signingKey }),
    ...(options.port !== undefined && { port: options.port }),
  });
  if (stateFile !== undefined) {
    const state = issuer.state();
    // Identities not asked for this time (a topic left out) are kept for a later run.
    const others = (saved?.principals ?? []).filter((p) => !principals.has(p.name));
    await writeIssuerState(stateFile, { ...state, principals: [...state.principals, ...others] }).catch(async (err: unknown) => {
      await issuer.close();
      throw err;
    });
  }
  return {
    issuer,
    principals: issuer.principals,
    roleAssignments: (options.adjustRoles ?? ((a) => a))(roleAssignmentsFor(principals, options.agentTopics), (name) => principals.get(name)!.objectId),
    environmentFor: (name) => issuer.environmentFor(name),
    appArmCredential: () => ({
      getToken: async () => ({
        token: issuer.mint(APP_IDENTITY, ARM_SCOPE.replace(/\.default$/, ''), { lifetimeSeconds: 600 }),
        expiresOnTimestamp: Date.now() + 590_000,
      }),
    }),
    close: () => issuer.close(),
  };
}
