import type { HttpRequest } from '@azure/functions';

/**
 * The signed-in caller, when App Service Authentication (EasyAuth) passes one. App Service sets
 * this header itself and drops it from requests that arrive with it, so it is not a claim.
 */
export function principalOf(request: HttpRequest): string | undefined {
  return request.headers.get('x-ms-client-principal-name') || undefined;
}
