// The few places where the emulator reaches into rhea's internals, kept together. Each patch is
// applied to one server-side object (a connection, its transport, a session or a link), never to
// rhea's shared prototypes, so that an SDK running in the same process (tests) is unaffected. The
// one exception is the decoder bound below: rhea builds its decoder per frame, out of reach of a
// per-connection patch, and the bound refuses only encodings that no peer sends. `sendNow` and
// `readTransfersDirectly` repeat, for the common case, what rhea 3.0.5 does at those points
// (session.js: `Outgoing.send`/`process`, `Incoming.on_transfer`): a new rhea must be checked
// against them; the tests compare their frame bytes with rhea's.
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

/** Sessions whose incoming transfers reach the emulator raw (see `readTransfersDirectly`). */
const rawSessions = new WeakSet<object>();

export function receiveRawTransfers(session: Session): void {
  rawSessions.add(session);
  const incoming = (session as unknown as { incoming: Incoming }).incoming;
  const original = incoming.on_transfer;
  incoming.on_transfer = function (frame, receiver) {
    if (!frame.performative.message_format) frame.performative.message_format = RAW_FORMAT_0;
    original.call(this, frame, receiver);
  };
}

/** What `afterEachProcessingRound` calls for each connection: it writes the frames gathered. */
const roundEnds = new WeakMap<object, () => void>();

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
  roundEnds.set(connection, done);
}

/**
 * Writes what the connection has to write now: runs its processing round when rhea has queued
 * one for the end of the tick (that one then finds nothing left to do), or else writes the
 * frames `sendNow` gathered. Never for a connection whose own input or processing round is under
 * way.
 */
export function writeNow(connection: Connection): void {
  const c = connection as unknown as { registered: boolean; _process(): void };
  if (c.registered) c._process();
  else roundEnds.get(connection)?.();
}

interface OutgoingInternals {
  deliveries: { push(d: unknown): void; available(): number };
  next_delivery_id: number;
  next_pending_delivery: number;
  next_transfer_id: number;
  window: number;
  transfer_window(): number;
  compute_max_payload(tag: Buffer): number | undefined;
  update(d: unknown, settled: boolean, state: unknown): void;
}

interface ConnectionInternals {
  registered: boolean;
  socket_ready: boolean;
  socket?: { write(chunk: Buffer): boolean };
  transport: { has_writes_pending(): boolean };
  abort_idle?: unknown;
  transport_error?: unknown;
  heartbeat_out?: NodeJS.Timeout;
  heartbeat_in?: NodeJS.Timeout;
  remote: { open?: { idle_time_out?: number } };
  local: { open: { idle_time_out?: number } };
  is_open(): boolean;
  _write_frame(): void;
  idle(): void;
}

interface FastSender {
  credit: number;
  delivery_count: number;
  _draining: boolean;
  local: { handle: number; attach: { snd_settle_mode?: number } };
  session: { local: { channel: number }; outgoing: OutgoingInternals; is_open(): boolean };
  connection: ConnectionInternals;
  is_open(): boolean;
}

/**
 * Sends an unsettled delivery the way rhea's next processing round would (`Sender.send`, then
 * `Outgoing.process`: the same delivery record, ids, window, credit and frame bytes), but at once
 * and without rhea's generic frame encoder: on an idle emulator every layer a message passes
 * through costs, and rhea's send path was about a fifth of a transfer's time in the emulator. The frame waits
 * with the connection's other writes until `writeNow`. Returns undefined, having changed
 * nothing, unless the delivery is the only thing the connection has to send and fits one frame:
 * the caller then sends it through rhea.
 */
export function sendNow(sender: Sender, tag: Buffer, data: Buffer): import('rhea').Delivery | undefined {
  const s = sender as unknown as FastSender;
  const c = s.connection;
  const o = s.session.outgoing;
  if (
    c.registered ||
    !c.socket_ready ||
    !c.socket ||
    c.abort_idle ||
    c.transport_error ||
    !s.is_open() ||
    s.local.attach.snd_settle_mode === 1 ||
    s._draining ||
    s.credit <= 0 ||
    o.next_pending_delivery !== o.next_delivery_id ||
    o.deliveries.available() <= 0 ||
    o.transfer_window() <= 0 ||
    tag.length > 255 ||
    c.transport.has_writes_pending()
  ) {
    return undefined;
  }
  const maxPayload = o.compute_max_payload(tag);
  if (maxPayload && data.length > maxPayload) return undefined;
  // Outgoing.send
  const d = {
    id: o.next_delivery_id++,
    tag,
    link: sender,
    data: [data],
    format: 0,
    next_to_send: 0,
    sent: false,
    settled: false,
    state: undefined,
    remote_settled: false,
    remote_state: undefined,
    update(settled: boolean, state: unknown) {
      o.update(d, settled, state);
    },
  };
  o.deliveries.push(d);
  // Outgoing.process
  o.window -= 1;
  o.next_transfer_id++;
  c.socket.write(transferFrame(s.session.local.channel, s.local.handle, d.id, tag, data));
  s.credit--;
  s.delivery_count++;
  o.next_pending_delivery++;
  // Connection.output after a write: the heartbeats start again from now.
  if (c.heartbeat_out) c.heartbeat_out.refresh();
  else if (c.remote.open?.idle_time_out) c.heartbeat_out = setTimeout(c._write_frame.bind(c), c.remote.open.idle_time_out / 2);
  if (c.local.open.idle_time_out && c.heartbeat_in === undefined) c.heartbeat_in = setTimeout(c.idle.bind(c), c.local.open.idle_time_out * 2);
  return d as unknown as import('rhea').Delivery;
}

interface IncomingInternals {
  next_transfer_id: number;
  next_delivery_id: number | undefined;
  deliveries: { push(d: unknown): void; available(): number };
  update(d: unknown, settled: boolean, state: unknown): void;
}

interface ReceiverInternals {
  credit: number;
  delivery_count: number;
  _incomplete: unknown;
  local: { attach: { rcv_settle_mode?: number } };
  is_receiver(): boolean;
  is_remote_open(): boolean;
  dispatch(event: string, context: unknown): boolean;
  _context(fields: Record<string, unknown>): unknown;
}

interface TransportInternals {
  header_received: unknown;
  read_complete: boolean;
  read(buffer: Buffer): number;
}

interface ConnectionReadInternals {
  registered: boolean;
  _process(): void;
  amqp_transport: TransportInternals;
  remote_channel_map: Record<number, { incoming: IncomingInternals; remote: { handles: Record<number, ReceiverInternals> } } | undefined>;
}

/**
 * Reads a peer's transfer the way rhea would (`Transport.read`, `Session.on_transfer`, then
 * `Incoming.on_transfer` as `receiveRawTransfers` has it: the same delivery record, ids, credit
 * and 'message' event), but without rhea's generic frame decoder, when a chunk of input is one
 * plainly encoded, single-frame transfer on an attached receiver of a session that receives raw
 * transfers; anything else (other frames, several frames, other encodings, more to come, any
 * state rhea would complain about) goes to rhea as before. When a chunk is one disposition, rhea
 * reads it, and then runs the processing round it has queued at once (the settlements' events
 * and their answers), rather than at the end of the tick: nothing else waits in that chunk.
 */
export function readTransfersDirectly(connection: Connection): void {
  const c = connection as unknown as ConnectionReadInternals;
  const transport = c.amqp_transport;
  const read = transport.read;
  transport.read = function (buffer: Buffer) {
    if (!this.header_received || this.read_complete) return read.call(this, buffer);
    if (readTransfer(c, buffer)) return buffer.length;
    const done = read.call(this, buffer);
    // A chunk that is one disposition: rhea's round for it (the events of the settlements and the
    // answers) runs now rather than at the end of the tick; nothing else in the chunk is reordered.
    if (done === buffer.length && isOneDisposition(buffer) && c.registered) c._process();
    return done;
  };
}

function isOneDisposition(buf: Buffer): boolean {
  return buf.length > 11 && buf.readUInt32BE(0) === buf.length && buf[5] === 0 && buf[8] === 0x00 && buf[9] === 0x53 && buf[10] === 0x15;
}

/** The offset after the uint that `readUint` read last. */
let uintEnd = 0;

/** A uint0, smalluint or uint at `at`; -1 for any other encoding. */
function readUint(buf: Buffer, at: number, end: number): number {
  const code = buf[at];
  if (code === 0x43) {
    uintEnd = at + 1;
    return 0;
  }
  if (code === 0x52 && at + 2 <= end) {
    uintEnd = at + 2;
    return buf[at + 1]!;
  }
  if (code === 0x70 && at + 5 <= end) {
    uintEnd = at + 5;
    return buf.readUInt32BE(at + 1);
  }
  return -1;
}

function readTransfer(c: ConnectionReadInternals, buf: Buffer): boolean {
  const n = buf.length;
  // One frame of type AMQP with no extended header, holding a transfer as a list32 of 6 fields.
  if (n < 21 || buf.readUInt32BE(0) !== n || buf[4] !== 2 || buf[5] !== 0) return false;
  if (buf[8] !== 0x00 || buf[9] !== 0x53 || buf[10] !== 0x14 || buf[11] !== 0xd0) return false;
  const listEnd = 16 + buf.readUInt32BE(12);
  if (listEnd > n || buf.readUInt32BE(16) !== 6) return false;
  const handle = readUint(buf, 20, listEnd);
  if (handle < 0) return false;
  const deliveryId = readUint(buf, uintEnd, listEnd);
  if (deliveryId < 0 || buf[uintEnd] !== 0xa0 || uintEnd + 2 > listEnd) return false;
  const tagStart = uintEnd + 2;
  const tagEnd = tagStart + buf[uintEnd + 1]!;
  if (tagEnd > listEnd) return false;
  const format = readUint(buf, tagEnd, listEnd);
  if (format < 0 || uintEnd + 2 !== listEnd) return false;
  const settled = buf[uintEnd];
  if ((settled !== 0x41 && settled !== 0x42) || buf[uintEnd + 1] !== 0x42 || listEnd === n) return false; // more: false; a payload
  // Connection.on_transfer, Session.on_transfer
  const session = c.remote_channel_map[buf.readUInt16BE(6)];
  if (!session || !rawSessions.has(session)) return false;
  const receiver = session.remote.handles[handle];
  if (!receiver || !receiver.is_receiver() || !receiver.is_remote_open() || receiver._incomplete || receiver.credit <= 0) return false;
  const incoming = session.incoming;
  if ((incoming.next_delivery_id !== undefined && incoming.next_delivery_id !== deliveryId) || incoming.deliveries.available() <= 0) return false;
  // Incoming.on_transfer
  incoming.next_transfer_id++;
  if (incoming.next_delivery_id === undefined) incoming.next_delivery_id = deliveryId;
  const current = {
    id: deliveryId,
    tag: buf.subarray(tagStart, tagEnd),
    format: format === 0 ? RAW_FORMAT_0 : format,
    link: receiver,
    settled: false,
    state: undefined,
    remote_settled: settled === 0x41,
    remote_state: undefined,
    incomplete: false,
    update(settled: boolean | undefined, state: unknown) {
      incoming.update(current, settled === undefined ? receiver.local.attach.rcv_settle_mode !== 1 : settled, state);
    },
    accept() {
      this.update(undefined, outcomes.accepted().described());
    },
    release(params?: { delivery_failed?: boolean; undeliverable_here?: boolean }) {
      this.update(undefined, params ? outcomes.modified(params).described() : outcomes.released().described());
    },
    reject(error?: { condition: string; description: string }) {
      this.update(undefined, outcomes.rejected({ error }).described());
    },
    modified(params: { delivery_failed?: boolean; undeliverable_here?: boolean }) {
      this.update(undefined, outcomes.modified(params).described());
    },
  };
  incoming.deliveries.push(current);
  incoming.next_delivery_id++;
  receiver._incomplete = undefined;
  receiver.credit--;
  receiver.delivery_count++;
  receiver.dispatch('message', receiver._context({ message: buf.subarray(listEnd, n), delivery: current, format: current.format }));
  return true;
}

/** A small unsigned integer as rhea writes it: uint0, smalluint or uint. */
function uintLength(n: number): number {
  return n === 0 ? 1 : n <= 0xff ? 2 : 5;
}
function writeUintAt(out: Buffer, at: number, n: number): number {
  if (n === 0) {
    out[at] = 0x43;
    return at + 1;
  }
  if (n <= 0xff) {
    out[at] = 0x52;
    out[at + 1] = n;
    return at + 2;
  }
  out[at] = 0x70;
  out.writeUInt32BE(n, at + 1);
  return at + 5;
}

/**
 * The frame rhea writes for an unsettled, single-frame transfer of format 0: the performative as
 * a list32 of handle, delivery-id, delivery-tag (vbin8), message-format, settled and more.
 */
export function transferFrame(channel: number, handle: number, deliveryId: number, tag: Buffer, payload: Buffer): Buffer {
  const listBody = 4 + uintLength(handle) + uintLength(deliveryId) + 2 + tag.length + 3;
  const size = 8 + 3 + 5 + listBody + payload.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out[4] = 2;
  out[5] = 0;
  out.writeUInt16BE(channel, 6);
  out[8] = 0x00;
  out[9] = 0x53;
  out[10] = 0x14;
  out[11] = 0xd0;
  out.writeUInt32BE(listBody, 12);
  out.writeUInt32BE(6, 16);
  let at = writeUintAt(out, 20, handle);
  at = writeUintAt(out, at, deliveryId);
  out[at] = 0xa0;
  out[at + 1] = tag.length;
  at += 2 + tag.copy(out, at + 2);
  out[at] = 0x43; // message-format 0
  out[at + 1] = 0x42; // settled: false
  out[at + 2] = 0x42; // more: false
  payload.copy(out, at + 3);
  return out;
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
  released(): { described(): unknown };
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
