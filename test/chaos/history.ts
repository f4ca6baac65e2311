// What a node did with each message, in order, over all its agents' lives: the node state keeps
// only the last drain, intake stop and resume (a resume deletes the intake stop it undoes, a
// re-arm the drain), so the invariants read the agents' logs (JSON lines on stderr, a pipe:
// written synchronously, so a kill -9 loses no line already logged), and the state file as well.
import type { ChaosNode } from './fleet.js';

export interface Act {
  messageId: string;
  drainId: string;
  /** acted: committed and carried out; answered: a command settled with a report only (refused, already …); expired. */
  how: 'acted' | 'answered' | 'expired';
  /** For an answer: the report it sent (refused, resumed, intake-stopped). */
  report?: string;
  reason?: string;
}

export interface History {
  acts: Act[];
  /** How many times each message was accepted afresh (`message-accepted`): more than once is acting twice. */
  accepted: Map<string, number>;
}

const drainOf = (messageId: string) => messageId.slice(0, messageId.lastIndexOf('/'));

export function historyOf(node: Pick<ChaosNode, 'agents' | 'state'>): History {
  const acts: Act[] = [];
  const accepted = new Map<string, number>();
  const acted = new Set<string>();
  const add = (messageId: string, how: Act['how'], extra: Partial<Act> = {}) => acts.push({ messageId, drainId: drainOf(messageId), how, ...extra });
  for (const agent of node.agents ?? []) {
    for (const e of agent.events()) {
      const id = e['messageId'];
      if (typeof id !== 'string') continue;
      switch (e['event']) {
        case 'message-accepted':
          accepted.set(id, (accepted.get(id) ?? 0) + 1);
          if (!acted.has(id)) add(id, 'acted');
          acted.add(id);
          break;
        case 'recover-commit':
        case 'recover-committed':
          if (!acted.has(id)) add(id, 'acted');
          acted.add(id);
          break;
        case 'command-answered':
          add(id, 'answered', { report: String(e['report']), reason: String(e['reason']) });
          break;
        case 'message-expired':
          add(id, 'expired');
          break;
      }
    }
  }
  const st = node.state();
  for (const m of [st?.drain, st?.intake, st?.resumed]) {
    if (m && !acted.has(m.messageId)) {
      add(m.messageId, 'acted');
      acted.add(m.messageId);
    }
  }
  return { acts, accepted };
}

/** The node's acts on one drain's messages. */
export function actsOn(h: History, drainId: string): Act[] {
  return h.acts.filter((a) => a.drainId === drainId);
}
