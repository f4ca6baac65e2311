// The certificate of the emulator's TLS listeners (ARM endpoint, AMQPS): the one given with
// --cert/--key, or a self-signed one for localhost/127.0.0.1/::1, persisted in the data
// directory (when there is one) so that clients that were told to trust it keep trusting it
// across restarts. A generated certificate is a self-signed leaf (CA:false): trusting `caPem`
// is all a client needs, and a client that trusts it trusts only these three names, never a
// certificate someone else signs with the key.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsCertificate {
  /** PEM certificate chain served by the listeners. */
  certPem: string;
  /** PEM private key. */
  keyPem: string;
  /** PEM to trust on the client side (`ca` option, NODE_EXTRA_CA_CERTS): the certificate itself. */
  caPem: string;
  /** Where it came from; `certFile` names the PEM file when there is one. */
  source: 'files' | 'generated' | 'data-dir';
  certFile?: string;
  /** SHA-256 fingerprint, for logs. */
  fingerprint: string;
  validTo: Date;
}

export interface CertificateOptions {
  /** PEM certificate file (--cert); requires keyFile. */
  certFile?: string;
  /** PEM private key file (--key); requires certFile. */
  keyFile?: string;
  /** Data directory: a generated certificate is kept in `<dataDir>/tls/` and reused. */
  dataDir?: string;
}

export class CertificateError extends Error {
  readonly code = 'InvalidCertificate';
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

const VALIDITY_DAYS = 825; // the longest validity that Apple's TLS stack accepts for a server cert
const RENEW_BEFORE_MS = 30 * 86_400_000;

// One generated certificate per process when there is no data directory: RSA key generation
// costs tens of milliseconds, and a test suite starts many in-memory emulators.
let inMemory: Promise<TlsCertificate> | undefined;

export async function loadOrCreateCertificate(options: CertificateOptions = {}): Promise<TlsCertificate> {
  const { certFile, keyFile, dataDir } = options;
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new CertificateError('--cert and --key must be given together');
    return fromFiles(certFile, keyFile, 'files');
  }
  if (dataDir) return fromDataDir(join(dataDir, 'tls'));
  inMemory ??= generateCertificate().catch((error: unknown) => {
    inMemory = undefined;
    throw error;
  });
  return inMemory;
}

async function fromFiles(certFile: string, keyFile: string, source: TlsCertificate['source']): Promise<TlsCertificate> {
  const certPem = await readPem(certFile, 'certificate');
  const keyPem = await readPem(keyFile, 'private key');
  return describe(certPem, keyPem, source, certFile, keyFile);
}

async function fromDataDir(dir: string): Promise<TlsCertificate> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    const existing = await fromFiles(certFile, keyFile, 'data-dir');
    // Earlier versions generated a CA; that one is replaced too.
    if (existing.validTo.getTime() - Date.now() > RENEW_BEFORE_MS && !new X509Certificate(existing.certPem).ca) return existing;
  } catch (error) {
    // Missing on first start; a damaged or expiring pair is replaced by a new one below.
    if (!(error instanceof CertificateError)) throw error;
  }
  const fresh = await generateCertificate();
  await mkdir(dir, { recursive: true });
  await writeAtomically(keyFile, fresh.keyPem, 0o600);
  await writeAtomically(certFile, fresh.certPem, 0o644);
  return { ...fresh, source: 'data-dir', certFile };
}

async function generateCertificate(): Promise<TlsCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000); // tolerate a little clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + VALIDITY_DAYS * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: 'Workforce Service Bus emulator (localhost)' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      // A leaf: the key signs TLS handshakes, never other certificates.
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return describe(pems.cert, pems.private, 'generated');
}

function describe(
  certPem: string,
  keyPem: string,
  source: TlsCertificate['source'],
  certFile?: string,
  keyFile?: string,
): TlsCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new CertificateError(`${certFile ?? 'certificate'}: not a PEM certificate (${String(error)})`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    throw new CertificateError(`${keyFile ?? 'private key'}: not a PEM private key (${String(error)})`);
  }
  if (!matches) throw new CertificateError(`${keyFile ?? 'private key'} does not belong to ${certFile ?? 'the certificate'}`);
  const validTo = new Date(cert.validTo);
  if (validTo.getTime() <= Date.now()) throw new CertificateError(`${certFile ?? 'certificate'} expired on ${validTo.toISOString()}`);
  return {
    certPem,
    keyPem,
    caPem: certPem,
    source,
    ...(certFile ? { certFile } : {}),
    fingerprint: cert.fingerprint256,
    validTo,
  };
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CertificateError(`cannot read the ${what} ${file}: ${code ?? String(error)}`);
  }
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode });
  await chmod(temp, mode);
  await rename(temp, file);
}
