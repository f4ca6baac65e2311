// rhea buffers an incoming frame until all of the size its header announces has arrived, so a
// peer announcing a 2 GB frame would make the emulator hold whatever it streams. This guard
// watches the byte stream beside rhea (it only reads) and drops the connection as soon as a
// frame header announces more than the max-frame-size we offered, or less than a header.

const HEADER = 8; // a protocol header ("AMQP" + 4 bytes) and a frame header are both 8 bytes

export function guardFrameSizes(
  socket: { on(event: 'data', listener: (chunk: Buffer) => void): unknown },
  maxFrameSize: number,
  onViolation: (size: number) => void,
): void {
  let skip = 0; // bytes of the current frame's body still to pass over
  let head = Buffer.alloc(0); // a protocol or frame header split across chunks
  let violated = false;
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (!violated && i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const take = Math.min(HEADER - head.length, chunk.length - i);
      head = Buffer.concat([head, chunk.subarray(i, i + take)]);
      i += take;
      if (head.length < HEADER) return;
      const isProtocolHeader = head.toString('latin1', 0, 4) === 'AMQP';
      const size = head.readUInt32BE(0);
      head = Buffer.alloc(0);
      if (isProtocolHeader) continue; // AMQP or SASL header: no size
      if (size < HEADER || size > maxFrameSize) {
        violated = true;
        onViolation(size);
        return;
      }
      skip = size - HEADER;
    }
  });
}
