// The few places where the emulator reaches into rhea's internals, kept together. Each patch is
// applied to one server-side object (a session or a link), never to rhea's shared prototypes,
// so that an SDK running in the same process (tests) is unaffected. The one exception is the
// decoder bound below: rhea builds its decoder per frame, out of reach of a per-connection patch,
// and the bound refuses only encodings that no peer sends.
import rhea, { type Connection, type Sender, type Session } from 'rhea';

interface DecoderType {
  width: number;
}
interface Reader {
  buffer: Buffer;
  position: number;
  read_array_items(n: number, type: DecoderType): unknown[];
  read_n(n: number): unknown[];
}

const BOUNDED = Symbol.for('workforce.servicebus-emulator.bounded-decoder');

/**
 * rhea decodes an array by reading as many elements as its header announces. Elements of a
 * zero-width type (null, true, false, 0, the empty list) take no bytes, so a 30-byte frame that
 * announces 3 billion of them makes it build 3 billion values and run out of heap (found by the
 * AMQP fuzz test); types rhea reads as raw slices behave alike past the end of the frame. Every
 * element of a real encoding takes at least one byte, or a zero-width one fits many to a frame
 * only in encodings nobody sends, so a count above the bytes left is refused as a decode error:
 * rhea then closes that connection, and the emulator serves on.
 */
export function boundDecodedCounts(): void {
  const reader = (rhea as unknown as { types: { Reader: { prototype: Reader & { [BOUNDED]?: true } } } }).types.Reader.prototype;
  if (reader[BOUNDED]) return;
  reader[BOUNDED] = true;
  const check = (r: Reader, n: number, width: number): void => {
    const left = r.buffer.length - r.position;
    if (n * Math.max(width, 1) <= left) return;
    const error = new Error(`an AMQP array or list announces ${n} elements in ${left} bytes`);
    error.name = 'ProtocolError'; // what rhea answers by closing the connection
    throw error;
  };
  const readArrayItems = reader.read_array_items;
  reader.read_array_items = function (n, type) {
    check(this, n, type.width);
    return readArrayItems.call(this, n, type);
  };
  const readN = reader.read_n;
  reader.read_n = function (n) {
    check(this, n, 1);
    return readN.call(this, n);
  };
}

/**
 * rhea decodes format-0 messages before handing them over, which loses the exact bytes and the
 * AMQP types of properties. Marking incoming transfers with another format makes rhea pass the
 * raw payload; `RAW_FORMAT_0` is then read back as format 0.
 */
export const RAW_FORMAT_0 = 0x7ffffffe;

interface TransferFrame {
  performative: { message_format?: number };
}
interface Incoming {
  on_transfer(frame: TransferFrame, receiver: unknown): void;
}

export function receiveRawTransfers(session: Session): void {
  const incoming = (session as unknown as { incoming: Incoming }).incoming;
  const original = incoming.on_transfer;
  incoming.on_transfer = function (frame, receiver) {
    if (!frame.performative.message_format) frame.performative.message_format = RAW_FORMAT_0;
    original.call(this, frame, receiver);
  };
}

/**
 * Calls `done` after each of the connection's processing rounds (rhea's `_process`, which writes
 * the frames that the events of a tick produced). The server writes a connection's frames then,
 * rather than at the end of the tick: a transfer to a receiver goes out before the emulator
 * encodes the sender's disposition on another connection.
 */
export function afterEachProcessingRound(connection: Connection, done: () => void): void {
  const c = connection as unknown as { _process(): void };
  const round = c._process;
  c._process = function () {
    round.call(this);
    done();
  };
}

interface SenderInternals {
  credit: number;
  delivery_count: number;
  issue_flow: boolean;
  _draining: boolean;
  _drained: boolean;
  _get_drain(): boolean;
  connection: { _register(): void };
}

/**
 * Stock rhea answers a drain request only while credit is left; the SDK then waits for an answer
 * that never comes and closes its link. This sender answers every drain: it consumes the credit
 * left and sends a flow with `drain` set.
 */
export function answerEveryDrain(sender: Sender): void {
  const s = sender as unknown as SenderInternals;
  s._get_drain = function () {
    if (this._draining && this._drained) {
      this.delivery_count += this.credit;
      this.credit = 0;
      this._draining = false;
      return true;
    }
    return false;
  };
}

export function isDraining(sender: Sender): boolean {
  return (sender as unknown as SenderInternals)._draining === true;
}

/** Queues the drain answer (a flow frame) for the next write. */
export function completeDrain(sender: Sender): void {
  const s = sender as unknown as SenderInternals;
  s._drained = true;
  s.issue_flow = true;
  s.connection._register();
}

/** Credit granted by the peer, counted from the start of the link: delivery_count + credit. */
export function creditLimit(sender: Sender): number {
  const s = sender as unknown as SenderInternals;
  return s.delivery_count + s.credit;
}

export interface AttachFields {
  source?: { address?: string | null; filter?: Record<string, unknown> | null } | null;
  target?: { address?: string | null } | null;
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
  max_message_size?: number;
}

type AnyLink = Sender | import('rhea').Receiver;

/** The attach frame the peer sent (rhea's decoded copy: read it, never hand it back to rhea). */
export function remoteAttach(link: AnyLink): AttachFields {
  return (link as unknown as { remote: { attach: AttachFields } }).remote.attach;
}

/** The attach frame we are about to send; fields set here go out with it. */
export function localAttach(link: AnyLink): AttachFields {
  return (link as unknown as { local: { attach: AttachFields } }).local.attach;
}

/** Delivery outcomes (rhea exports them at runtime but not in its typings). */
export const outcomes = rhea.message as unknown as {
  accepted(): { described(): unknown };
  rejected(fields: { error?: { condition: string; description: string } }): { described(): unknown };
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): { described(): unknown };
};

/** Free slots in the session's buffer of unsettled outgoing deliveries; sending beyond it throws. */
export function outgoingSlots(sender: Sender): number {
  return (sender as unknown as { session: { outgoing: { available(): number } } }).session.outgoing.available();
}

/**
 * Marks a delivery we have just settled as settled by the peer too. A receiver in
 * rcv-settle-mode "second" sees our settlement and never sends a final one, and rhea frees
 * buffer slots only for deliveries settled on both sides, in order: without this, the session
 * buffer fills up after a few thousand messages.
 */
export function forgetSettled(delivery: import('rhea').Delivery): void {
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

interface DispositionFields {
  first: number;
  last?: number;
}
interface DeliveryBuffer {
  get_head(): { id: number } | undefined;
  get_tail(): { id: number } | undefined;
}
interface DispositionSide {
  deliveries: DeliveryBuffer;
  on_disposition(fields: DispositionFields): void;
}

/**
 * rhea settles a disposition range by visiting every id from `first` to `last`, so a peer that
 * sends `first: 0, last: 2^32-1` blocks the event loop for minutes. The unsettled deliveries of a
 * session sit contiguously in its buffer: clamp the range to the ids that buffer holds.
 */
export function boundDispositionRanges(session: Session): void {
  const sides = session as unknown as { incoming: DispositionSide; outgoing: DispositionSide };
  for (const side of [sides.incoming, sides.outgoing]) {
    const original = side.on_disposition;
    side.on_disposition = function (fields) {
      const head = this.deliveries.get_head();
      const tail = this.deliveries.get_tail();
      if (!head || !tail) return;
      const first = Math.max(fields.first, head.id);
      const last = Math.min(fields.last ?? fields.first, tail.id);
      if (first > last) return;
      // rhea's frame fields are accessors over one array: set them, never copy the object
      // (a spread drops `settled`, `state` and `role`).
      fields.first = first;
      fields.last = last;
      original.call(this, fields);
    };
  }
}
