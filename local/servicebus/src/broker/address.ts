// Entity addresses are matched case-insensitively, with or without the `sb://host/` prefix.

const normalised = new Map<string, string>();

/** Address or token resource → lower-case entity path (no scheme/host, no slashes at the ends). */
export function normalise(address: string): string {
  // Every transfer names its link's address: remember the few addresses in use.
  let path = normalised.get(address);
  if (path === undefined) {
    path = address
      .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
      .replace(/^\/+|\/+$/g, '')
      .toLowerCase();
    if (normalised.size >= 1024) normalised.clear();
    normalised.set(address, path);
  }
  return path;
}
