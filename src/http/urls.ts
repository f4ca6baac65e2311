import type { HttpRequest } from '@azure/functions';

/** The drain's status and cancel URLs, on the origin the caller used. */
export function drainUrls(request: HttpRequest, drainId: string): { statusUri: string; cancelUri: string } {
  const base = `${new URL(request.url).origin}/api/drains/${encodeURIComponent(drainId)}`;
  return { statusUri: base, cancelUri: `${base}/cancel` };
}
