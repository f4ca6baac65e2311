export { APP_SERVICE_API_VERSION, newPrincipal, startTokenIssuer } from './issuer.js';
export type { IdentityEnvironment, IssuerLogger, IssuerState, MintOptions, Principal, PrincipalWithSecret, TokenIssuer, TokenIssuerOptions } from './issuer.js';
export { startProcessCredential } from './process-credential.js';
export type { ProcessCredential, ProcessCredentialOptions } from './process-credential.js';
export { readIssuerState, writeIssuerState } from './state-file.js';
