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
  const head = Buffer.alloc(HEADER); // a protocol or frame header split across chunks
  let have = 0; // bytes of it received so far
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
      // Read the header from the chunk itself when it is all there (the usual case).
      let buf = chunk;
      let at = i;
      if (have > 0 || chunk.length - i < HEADER) {
        const take = Math.min(HEADER - have, chunk.length - i);
        chunk.copy(head, have, i, i + take);
        have += take;
        i += take;
        if (have < HEADER) return;
        have = 0;
        buf = head;
        at = 0;
      } else {
        i += HEADER;
      }
      // AMQP or SASL protocol header ("AMQP" + 4 bytes): no size.
      if (buf[at] === 0x41 && buf[at + 1] === 0x4d && buf[at + 2] === 0x51 && buf[at + 3] === 0x50) continue;
      const size = buf.readUInt32BE(at);
      if (size < HEADER || size > maxFrameSize) {
        violated = true;
        onViolation(size);
        return;
      }
      skip = size - HEADER;
    }
  });
}
