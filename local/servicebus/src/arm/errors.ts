// Errors in ARM's shape: `{ "error": { "code", "message", "target"? } }` with an HTTP status.
// `@azure/arm-servicebus` turns them into a RestError carrying `statusCode` and `code`.
import { isEmulatorError } from '../errors.js';
import { PropertyError, armFieldName } from './properties.js';

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message);
    this.name = 'ArmError';
  }

  toJSON(): { error: { code: string; message: string; target?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.target ? { target: this.target } : {}) } };
  }
}

export const armErrors = {
  unauthenticated: (why: string) => new ArmError(401, 'AuthenticationFailed', `Authentication failed. ${why}`),
  /** A bearer token ARM does not accept: `InvalidAuthenticationToken`, `ExpiredAuthenticationToken`, … */
  invalidToken: (code: string, message: string) => new ArmError(401, code, message),
  /** Azure's wording of a missing role assignment. */
  forbidden: (objectId: string, action: string, scope: string) =>
    new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${objectId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    ),
  missingApiVersion: () =>
    new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests."),
  notFound: (what: string) => new ArmError(404, 'NotFound', `${what} was not found.`),
  noRoute: (path: string) =>
    new ArmError(404, 'InvalidResourceType', `The emulator does not serve '${path}'. See the README of local/servicebus for the resources it models.`),
  methodNotAllowed: (method: string, path: string) =>
    new ArmError(405, 'MethodNotAllowed', `The method '${method}' is not supported on '${path}'.`),
  badRequest: (message: string, target?: string) => new ArmError(400, 'BadRequest', message, target),
  invalidJson: (why: string) => new ArmError(400, 'InvalidRequestContent', `The request content is not valid JSON: ${why}`),
  tooLarge: (limit: number) => new ArmError(413, 'RequestEntityTooLarge', `The request body is larger than ${limit} bytes.`),
};

/**
 * One place that turns whatever a handler threw into an ArmError. The catalogue's errors carry
 * their own status (400 bad value, 404 missing parent, 409 name taken); their messages name the
 * catalogue's field (`lockDurationMs`), which is rewritten to the ARM one.
 */
export function toArmError(error: unknown): ArmError {
  if (error instanceof ArmError) return error;
  if (error instanceof PropertyError) return armErrors.badRequest(error.message, error.field);
  if (isEmulatorError(error)) {
    const armCode = ARM_CODES[error.statusCode] ?? error.code;
    const field = /'(\w+)'/.exec(error.message)?.[1];
    const armField = field && error.code === 'InvalidEntityProperties' ? armFieldName(field) : undefined;
    if (armField) {
      const message = error.message.replace(`'${field}'`, `'properties.${armField}'`);
      return new ArmError(error.statusCode, armCode, message, `properties.${armField}`);
    }
    return new ArmError(error.statusCode, armCode, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ArmError(500, 'InternalServerError', `The emulator failed to handle the request: ${message}`);
}

const ARM_CODES: Record<number, string> = { 400: 'BadRequest', 404: 'NotFound', 409: 'Conflict' };
