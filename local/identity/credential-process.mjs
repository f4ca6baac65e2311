// One managed identity in its own process: @azure/identity's credential, configured only by
// this process's environment (IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID), answering
// getToken requests from its parent over IPC. msal-node keeps the managed-identity source
// process-wide, so one process can hold one identity, as one App Service app does.
// CREDENTIAL=default uses DefaultAzureCredential (which reads AZURE_CLIENT_ID itself).
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

const credential =
  process.env.CREDENTIAL === 'default'
    ? new DefaultAzureCredential()
    : new ManagedIdentityCredential(process.env.AZURE_CLIENT_ID ? { clientId: process.env.AZURE_CLIENT_ID } : {});

process.on('message', async ({ id, scopes }) => {
  try {
    const token = await credential.getToken(scopes);
    process.send({ id, token: token.token, expiresOnTimestamp: token.expiresOnTimestamp });
  } catch (error) {
    process.send({ id, error: { name: error?.name ?? 'Error', message: String(error?.message ?? error) } });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
