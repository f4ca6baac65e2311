// Narrowing values that arrive as JSON (request bodies, orchestration inputs and statuses).

/** A JSON object: not null, not an array. */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value a string holds as JSON (undefined when it is not JSON); anything else as it is. */
export function fromJson(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}
