// Entra ID settings and role scopes, without sockets: what each role grants where, and the
// messages that name a bad setting.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEntra } from '../../src/auth/entra.js';
import { armAllows, dataRights, type EntityKind, type RoleAssignment } from '../../src/auth/rbac.js';

const kinds: Record<string, 'queue' | 'topic'> = { orders: 'queue', reports: 'queue', control: 'topic' };
const kindOf: EntityKind = (name) => kinds[name];
const rights = (assignments: RoleAssignment[], address: string) => [...dataRights(assignments, 'p', address, kindOf)].sort();
const assign = (role: RoleAssignment['role'], scope: string): RoleAssignment => ({ principalId: 'p', role, scope });

describe('role assignments', () => {
  it('grant each role its rights, at the namespace and below', () => {
    expect(rights([assign('Azure Service Bus Data Owner', '/')], 'orders')).toEqual(['Listen', 'Manage', 'Send']);
    expect(rights([assign('Azure Service Bus Data Sender', '/')], 'sb://localhost:5671/control')).toEqual(['Send']);
    expect(rights([assign('Azure Service Bus Data Receiver', '/')], 'control/Subscriptions/node-1/$DeadLetterQueue')).toEqual(['Listen']);
    expect(rights([assign('Owner', '/'), assign('Contributor', '/')], 'orders')).toEqual([]);
  });

  it('scope an entity: a topic covers its subscriptions, a subscription not its siblings, a queue only itself', () => {
    const agent = [assign('Azure Service Bus Data Receiver', 'topics/control/subscriptions/node-1'), assign('Azure Service Bus Data Sender', 'queues/reports')];
    expect(rights(agent, 'control/subscriptions/node-1')).toEqual(['Listen']);
    expect(rights(agent, 'Control/Subscriptions/Node-1/$DeadLetterQueue')).toEqual(['Listen']);
    expect(rights(agent, 'control/subscriptions/node-2')).toEqual([]);
    expect(rights(agent, 'control')).toEqual([]);
    expect(rights(agent, 'reports')).toEqual(['Send']);
    expect(rights(agent, 'orders')).toEqual([]);
    expect(rights([assign('Azure Service Bus Data Sender', 'topics/control')], 'control/subscriptions/node-1')).toEqual(['Send']);
    // `queues/<name>` does not reach a topic of that name, nor `topics/<name>` a queue.
    expect(rights([assign('Azure Service Bus Data Sender', 'queues/control')], 'control')).toEqual([]);
    expect(rights([assign('Azure Service Bus Data Sender', 'topics/orders')], 'orders')).toEqual([]);
    expect(dataRights([assign('Azure Service Bus Data Owner', '/')], 'someone-else', 'orders', kindOf).size).toBe(0);
  });

  it('give ARM reads to any role at namespace scope, writes to Data Owner, Owner and Contributor there', () => {
    expect(armAllows([assign('Azure Service Bus Data Sender', '/')], 'p', false)).toBe(true);
    expect(armAllows([assign('Azure Service Bus Data Sender', '/')], 'p', true)).toBe(false);
    expect(armAllows([assign('Azure Service Bus Data Owner', 'queues/orders')], 'p', false)).toBe(false);
    for (const role of ['Azure Service Bus Data Owner', 'Owner', 'Contributor'] as const) expect(armAllows([assign(role, '/')], 'p', true)).toBe(true);
  });
});

describe('Entra ID settings', () => {
  const jwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'k1' };
  const valid = { issuer: 'https://sts.windows.net/t/', keys: [jwk], roleAssignments: [assign('Owner', '/')] };

  it('parse into a trust with a 5-minute skew by default', () => {
    const entra = parseEntra(valid, 'entra');
    expect(entra.trust.issuer).toBe('https://sts.windows.net/t/');
    expect([...entra.trust.keys.keys()]).toEqual(['k1']);
    expect(entra.trust.clockSkewMs).toBe(300_000);
    expect(parseEntra({ ...valid, clockSkewSeconds: 0 }, 'entra').trust.clockSkewMs).toBe(0);
  });

  it('name the field that is wrong', () => {
    const bad = (value: unknown) => () => parseEntra(value, 'entra.json');
    expect(bad([])).toThrow('entra.json: expected an object { issuer, keys, roleAssignments }.');
    expect(bad({ ...valid, issuer: 'sts' })).toThrow('entra.json.issuer: expected the tokens\' iss, an https URL, got "sts".');
    expect(bad({ ...valid, keys: [] })).toThrow('entra.json.keys: expected a non-empty array of public JWKs');
    expect(bad({ ...valid, keys: [{ ...jwk, kid: undefined }] })).toThrow('entra.json.keys[0].kid: expected the key\'s id');
    expect(bad({ ...valid, roleAssignments: [{ principalId: 'p', role: 'Reader', scope: '/' }] })).toThrow(
      "entra.json.roleAssignments[0].role: expected one of 'Azure Service Bus Data Owner', 'Azure Service Bus Data Sender', 'Azure Service Bus Data Receiver', 'Owner', 'Contributor', got \"Reader\".",
    );
    expect(bad({ ...valid, roleAssignments: [assign('Owner', 'queues')] })).toThrow("entra.json.roleAssignments[0].scope: expected '/', 'queues/<queue>'");
    expect(bad({ ...valid, roleAssignments: [{ ...assign('Owner', '/'), condition: 'x' }] })).toThrow("entra.json.roleAssignments[0]: unknown field 'condition'");
    expect(bad({ ...valid, clockSkewSeconds: -1 })).toThrow('entra.json.clockSkewSeconds: expected a whole number of seconds');
    expect(bad({ ...valid, tenant: 'x' })).toThrow("entra.json: unknown field 'tenant'");
  });
});
