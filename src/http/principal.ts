import type { HttpRequest } from '@azure/functions';

/**
 * The signed-in caller, when App Service Authentication (EasyAuth) passes one: with it on, App
 * Service sets this header and callers cannot, so it is not a claim. (Without it, only function
 * key holders reach the API, and the header is as good as the body's requestedBy.)
 */
export function principalOf(request: HttpRequest): string | undefined {
  return request.headers.get('x-ms-client-principal-name') || undefined;
}
