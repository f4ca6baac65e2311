// A receiver's link as a broker consumer: how many more messages its credit allows now, the
// delivery of one (its lock token as the delivery tag), the answer to a drain request, and the
// detach when its subqueue goes away.
import type { Delivery, Sender } from 'rhea';
import type { Consumer, Subqueue } from '../broker/entities.js';
import type { BrokerMessage } from '../broker/message.js';
import { EmulatorError } from '../errors.js';
import { deliveryTag, encodeForDelivery } from './delivery.js';

/** A sender's flow state: rhea's typings leave it out (rhea-promise reads `credit` the same way). */
interface FlowState {
  credit: number;
  delivery_count: number;
}

/** Credit granted by the peer, counted from the start of the link (constant between flows). */
function creditLimit(sender: Sender): number {
  const flow = sender as unknown as FlowState;
  return flow.delivery_count + flow.credit;
}

export class LinkConsumer implements Consumer {
  /** Deliveries sent on the link, counted as the credit limit is: from its start. */
  private sent = 0;
  private tag = 0;
  /** Lock token of each unsettled delivery. */
  readonly tokens = new WeakMap<Delivery, string>();

  constructor(
    readonly link: Sender,
    readonly subqueue: Subqueue,
    readonly owner: string,
    readonly receiveAndDelete: boolean,
  ) {}

  /**
   * rhea counts a delivery against the credit when it writes the transfer, at the end of the
   * tick; the deliveries of this tick are counted here. `sendable()` is false once the session's
   * buffer of unsettled deliveries is full.
   */
  credit(): number {
    if (!this.link.is_open() || !this.link.sendable()) return 0;
    return creditLimit(this.link) - this.sent;
  }

  deliver(m: BrokerMessage): void {
    const tag = deliveryTag(m) ?? Buffer.from(String(this.tag++));
    const delivery = this.link.send(encodeForDelivery(m), tag, 0);
    this.sent++;
    if (m.lock) this.tokens.set(delivery, m.lock.tokenString);
  }

  /** Answers a drain request: the credit left is used up, and a flow with `drain` goes out. */
  drain(): void {
    this.sent = Math.max(this.sent, creditLimit(this.link));
    this.link.set_drained(true);
  }

  detach(reason: Error): void {
    const namespace = (this.link.connection as unknown as { hostname?: string }).hostname || undefined;
    const error = reason instanceof EmulatorError ? reason.toAmqpError(namespace) : { condition: 'amqp:internal-error', description: reason.message };
    this.link.close(error);
  }
}
