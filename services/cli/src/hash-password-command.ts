import { hashPassword } from '@outpost/ingest';

/** Reads one password from standard input (never from argv, which other users can see in ps). */
export async function hashPasswordCommand(): Promise<void> {
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(0x0a)) break;
  }
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') {
    process.stderr.write('outpost hash-password: empty password\n');
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
}
