// The certificate of the TLS listeners, and clients that trust it without turning off
// verification: rhea with `ca`, and the unmodified @azure/service-bus SDK over AMQPS with
// NODE_EXTRA_CA_CERTS in a child process.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import rhea from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { spawnEmulator, startEmulator } from '../src/index.js';
import { CertificateError, loadOrCreateCertificate } from '../src/tls/certificate.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-tls-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('certificate', () => {
  it('is generated for localhost, 127.0.0.1 and ::1', async () => {
    const certificate = await loadOrCreateCertificate();
    const x509 = new X509Certificate(certificate.certPem);
    expect(x509.subjectAltName).toContain('DNS:localhost');
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x509.subjectAltName).toMatch(/IP Address:(0:0:0:0:0:0:0:1|::1)/);
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(certificate.caPem).toBe(certificate.certPem);
    expect(certificate.source).toBe('generated');
  });

  it('is a leaf, not a CA: trusting it trusts nothing its key might sign', async () => {
    const x509 = new X509Certificate((await loadOrCreateCertificate()).certPem);
    expect(x509.ca).toBe(false);
    const persisted = new X509Certificate((await loadOrCreateCertificate({ dataDir: join(dir, 'leaf') })).certPem);
    expect(persisted.ca).toBe(false);
  });

  it('replaces a CA certificate an earlier version left in the data directory', async () => {
    const dataDir = join(dir, 'old-ca');
    const old = await generate([{ name: 'commonName', value: 'old emulator CA' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'basicConstraints', cA: true, critical: true }],
    });
    await mkdir(join(dataDir, 'tls'), { recursive: true });
    await writeFile(join(dataDir, 'tls', 'cert.pem'), old.cert);
    await writeFile(join(dataDir, 'tls', 'key.pem'), old.private);
    expect(new X509Certificate(old.cert).ca).toBe(true);
    const renewed = await loadOrCreateCertificate({ dataDir });
    expect(new X509Certificate(renewed.certPem).ca).toBe(false);
    expect(await readFile(join(dataDir, 'tls', 'cert.pem'), 'utf8')).toBe(renewed.certPem);
  });

  it('is kept in the data directory and reused on restart', async () => {
    const dataDir = join(dir, 'data');
    const first = await loadOrCreateCertificate({ dataDir });
    const second = await loadOrCreateCertificate({ dataDir });
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(second.source).toBe('data-dir');
    expect(await readFile(join(dataDir, 'tls', 'cert.pem'), 'utf8')).toBe(first.certPem);
    expect((await stat(join(dataDir, 'tls', 'key.pem'))).mode & 0o777).toBe(0o600);
  });

  it('is loaded from --cert/--key files, which must match', async () => {
    const generated = await loadOrCreateCertificate({ dataDir: join(dir, 'other') });
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    await writeFile(certFile, generated.certPem);
    await writeFile(keyFile, generated.keyPem);
    const loaded = await loadOrCreateCertificate({ certFile, keyFile });
    expect(loaded).toMatchObject({ source: 'files', certFile, fingerprint: generated.fingerprint });

    await expect(loadOrCreateCertificate({ certFile })).rejects.toThrow('--cert and --key must be given together');
    const wrongKey = join(dir, 'wrong-key.pem');
    await writeFile(wrongKey, (await loadOrCreateCertificate({ dataDir: join(dir, 'third') })).keyPem);
    await expect(loadOrCreateCertificate({ certFile, keyFile: wrongKey })).rejects.toThrow(/does not belong to/);
    await expect(loadOrCreateCertificate({ certFile: join(dir, 'absent.pem'), keyFile })).rejects.toBeInstanceOf(CertificateError);
  });
});

describe('AMQPS listener', () => {
  it('accepts a TLS connection from a client that trusts the CA, and only from such a client', async () => {
    const emulator = await startEmulator({ port: 0 });
    try {
      const port = Number(/:(\d+);/.exec(emulator.amqpsConnectionString!)![1]);
      await expect(openAmqp(port, emulator.caCertificate!)).resolves.toBe('opened');
      await expect(openAmqp(port, undefined)).rejects.toThrow(/self[- ]signed certificate/);
    } finally {
      await emulator.close();
    }
  });

  it('serves the unmodified @azure/service-bus SDK, trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const emulator = await startEmulator({ port: 0 });
    try {
      emulator.catalogue.putQueue('tls-queue');
      const caFile = join(dir, 'emulator-ca.pem');
      await writeFile(caFile, emulator.caCertificate!);
      const script = fileURLToPath(new URL('./fixtures/amqps-client.mjs', import.meta.url));
      const child = async (extraEnv: Record<string, string>) => {
        const { stdout } = await run(process.execPath, [script, emulator.amqpsConnectionString!, 'tls-queue'], {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...extraEnv },
          timeout: 45_000,
        });
        return JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; body?: unknown; error?: string };
      };
      expect(await child({ NODE_EXTRA_CA_CERTS: caFile })).toEqual({ ok: true, body: 'over tls' });
      const untrusted = await child({});
      expect(untrusted.ok).toBe(false);
      expect(untrusted.error).toMatch(/self[- ]signed certificate/);
    } finally {
      await emulator.close();
    }
  });
});

describe('the CLI without a data directory', () => {
  it('writes the generated certificate into a fresh 0700 folder of its own, removed when it exits', async () => {
    const emulator = await spawnEmulator({ args: ['--port', '0'] });
    let file: string;
    try {
      file = emulator.ready.caCertificateFile!;
      expect(dirname(dirname(file))).toBe(tmpdir());
      expect(dirname(file)).toMatch(/\/servicebus-emulator-[A-Za-z0-9]{6}$/);
      expect((await stat(dirname(file))).mode & 0o777).toBe(0o700);
      const x509 = new X509Certificate(await readFile(file, 'utf8'));
      expect(x509.ca).toBe(false);
      expect(x509.checkHost('localhost')).toBe('localhost');
    } finally {
      await emulator.stop('SIGTERM', 10_000);
    }
    expect(existsSync(dirname(file))).toBe(false);
  });
});

/** Opens (and closes) an AMQP connection over TLS with rhea; resolves 'opened'. */
function openAmqp(port: number, ca: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const container = rhea.create_container();
    const connection = container.connect({
      host: 'localhost',
      port,
      transport: 'tls',
      servername: 'localhost',
      ...(ca ? { ca } : {}),
      reconnect: false,
    } as never);
    connection.on('connection_open', () => {
      connection.close();
      resolve('opened');
    });
    connection.on('disconnected', (context) => reject(context.error ?? new Error('disconnected')));
    connection.on('connection_error', (context) => reject(context.connection.error ?? new Error('connection error')));
  });
}
