// Lock tokens and message ids as GUIDs: the byte order of .NET GUIDs on the wire, and UUID text.

/**
 * Delivery tags carry lock tokens in .NET GUID byte order (the first three groups little-endian);
 * the SDK reorders them into a standard UUID. The swap is its own inverse.
 */
export function swapGuidByteOrder(b: Buffer): Buffer {
  if (b.length !== 16) return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8, 16)]);
  const out = Buffer.allocUnsafe(16);
  out[0] = b[3]!;
  out[1] = b[2]!;
  out[2] = b[1]!;
  out[3] = b[0]!;
  out[4] = b[5]!;
  out[5] = b[4]!;
  out[6] = b[7]!;
  out[7] = b[6]!;
  b.copy(out, 8, 8, 16);
  return out;
}

export function uuidToString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A message id or correlation id, whatever its AMQP type, as the SDKs show it. */
export function messageIdToString(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') return id;
  if (Buffer.isBuffer(id)) return id.length === 16 ? uuidToString(id) : id.toString('hex');
  return String(id);
}

/** A string-valued property, or its value as text. */
export function asString(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : typeof v === 'string' ? v : messageIdToString(v);
}
