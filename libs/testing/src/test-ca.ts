import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const OPENSSL_MISSING_MESSAGE =
  'openssl was not found on PATH. The TLS tests create their certificate authority with it.\n' +
  '  Debian/Ubuntu: sudo apt-get install -y openssl\n' +
  'or point OPENSSL_BIN at an openssl binary.';

export interface TestCertificate {
  /** PEM private key. */
  key: string;
  /** PEM certificate. */
  cert: string;
}

/**
 * A certificate authority that exists only for one test run, with leaf certificates for whatever
 * names a test needs: receivers with a valid certificate for their MX name, with one for another
 * name, or self-signed. Made with the `openssl` command (EC P-256 keys, fast to generate).
 */
export interface TestCa {
  /** The CA certificate (PEM): what a client has to trust. */
  readonly cert: string;
  /** A file holding the CA certificate, e.g. for OUTPOST_MTA_STS_CA_FILE. */
  readonly certFile: string;
  /** A server certificate for these DNS names, signed by this CA. */
  issue(names: readonly string[]): Promise<TestCertificate>;
  /** A server certificate for these DNS names that no CA signed. */
  selfSigned(names: readonly string[]): Promise<TestCertificate>;
  /** Deletes the CA's files. */
  remove(): Promise<void>;
}

export function opensslBinary(): string {
  return process.env.OPENSSL_BIN ?? 'openssl';
}

export async function createTestCa(commonName = 'Outpost Test CA'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-ca-'));
  const file = (name: string) => join(dir, name);
  const openssl = async (args: string[]) => {
    try {
      await run(opensslBinary(), args, { cwd: dir });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') throw new Error(OPENSSL_MISSING_MESSAGE);
      throw new Error(`openssl ${args[0]} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    }
  };
  const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await writeFile(
    file('ca.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = ca',
      'prompt = no',
      '[dn]',
      `CN = ${commonName.replace(/[^\w .-]/g, '')}`,
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  await openssl([
    'req',
    '-x509',
    ...keyArgs,
    '-days',
    '7',
    '-config',
    'ca.cnf',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  const caCert = await readFile(file('ca.pem'), 'utf8');
  let serial = 0;

  /** The config of a server certificate for `names` (subjectAltName DNS-IDs, serverAuth). */
  const leafConfig = async (names: readonly string[]) => {
    for (const name of names) {
      if (!/^(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*$/i.test(name)) throw new Error(`not a DNS name: ${name}`);
    }
    const base = `leaf-${++serial}`;
    await writeFile(
      file(`${base}.cnf`),
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = leaf',
        'prompt = no',
        '[dn]',
        `CN = ${names[0] ?? 'localhost'}`,
        '[leaf]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${names.map((name) => `DNS:${name}`).join(',')}`,
        '',
      ].join('\n'),
    );
    return base;
  };
  const read = async (base: string): Promise<TestCertificate> => ({
    key: await readFile(file(`${base}.key`), 'utf8'),
    cert: await readFile(file(`${base}.pem`), 'utf8'),
  });

  return {
    cert: caCert,
    certFile: file('ca.pem'),
    async issue(names) {
      const base = await leafConfig(names);
      await openssl([
        'req',
        '-new',
        ...keyArgs,
        '-config',
        `${base}.cnf`,
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
      ]);
      await openssl([
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-set_serial',
        `0x${randomBytes(8).toString('hex')}`,
        '-days',
        '2',
        '-extfile',
        `${base}.cnf`,
        '-extensions',
        'leaf',
        '-out',
        `${base}.pem`,
      ]);
      return read(base);
    },
    async selfSigned(names) {
      const base = await leafConfig(names);
      await openssl([
        'req',
        '-x509',
        ...keyArgs,
        '-days',
        '2',
        '-config',
        `${base}.cnf`,
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.pem`,
      ]);
      return read(base);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
