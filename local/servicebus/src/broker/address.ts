// Entity addresses are matched case-insensitively, with or without the `sb://host/` prefix.

/** Address or token resource → lower-case entity path (no scheme/host, no slashes at the ends). */
export function normalise(address: string): string {
  return address
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .replace(/^\/+|\/+$/g, '')
    .toLowerCase();
}
