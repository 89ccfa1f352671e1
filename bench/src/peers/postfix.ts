/**
 * A private Postfix instance (`postfix -c DIR`), never the system one: its own main.cf, queue and
 * maillog under the scratch directory, SMTP on 127.0.0.1:PORT, started inside `unshare -m` with
 * /etc/resolv.conf bind-mounted to the dnsmasq resolv.conf, so its MX lookups go to the test zone
 * while the machine's resolver stays untouched. Stopped with `postfix -c DIR stop`, which stops
 * exactly this instance's master.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { onAbort, trackChild } from '../processes.ts';
import { type PostfixSettings, postfixMainCf } from './postfix-config.ts';
import type { PeerTools } from './system-tools.ts';

export interface PostfixInstance {
  port: number;
  dir: string;
  masterPid(): number | undefined;
  maillog(): string;
  /** Messages in its hold queue. */
  held(): number;
  /** postsuper -H ALL, then postqueue -f: releases the hold queue and schedules it now. */
  releaseHeld(): void;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;
}

export async function startPostfix(
  tools: PeerTools,
  options: Omit<PostfixSettings, 'dir'> & { name: string; port: number; resolvConf: string },
): Promise<PostfixInstance> {
  // The master drops to the postfix user, who must be able to reach its queue below the scratch dir.
  chmodSync(options.scratch, 0o755);
  const dir = join(options.scratch, options.name);
  rmSync(dir, { recursive: true, force: true });
  const etc = join(dir, 'etc');
  mkdirSync(etc, { recursive: true });
  mkdirSync(join(dir, 'spool'));
  mkdirSync(join(dir, 'data'));
  cpSync('/etc/postfix/master.cf', join(etc, 'master.cf'));
  for (const extra of ['dynamicmaps.cf', 'dynamicmaps.cf.d']) {
    if (existsSync(`/etc/postfix/${extra}`))
      cpSync(`/etc/postfix/${extra}`, join(etc, extra), { recursive: true });
  }
  writeFileSync(join(etc, 'main.cf'), postfixMainCf({ ...options, dir }));
  // No chroot (so the bind-mounted resolv.conf is what its smtp client reads); the SMTP listener
  // moves from port 25 (the sinks' port) to ours; postlogd writes the maillog.
  run(tools.postconf, ['-c', etc, '-F', '*/*/chroot = n']);
  run(tools.postconf, ['-c', etc, '-M#', 'smtp/inet']);
  run(tools.postconf, ['-c', etc, '-Me', `${options.port}/inet = ${options.port} inet n - n - - smtpd`]);
  if (spawnSync(tools.postconf, ['-c', etc, '-M', 'postlog/unix-dgram']).stdout?.length === 0) {
    run(tools.postconf, ['-c', etc, '-Me', 'postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd']);
  }
  spawnSync(tools.postfix, ['-c', etc, 'set-permissions'], { stdio: 'ignore' });
  run(tools.postfix, ['-c', etc, 'check']);

  // start-fg: the master stays a descendant of ours (postfix-script waits for it), so nothing is left
  // to be reaped by init; `postfix stop` ends it, and with it the child we spawned.
  const child = trackChild(
    spawn(
      tools.unshare,
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start-fg',
        'sh',
        options.resolvConf,
        tools.postfix,
        etc,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const masterPidFile = join(dir, 'spool', 'pid', 'master.pid');
  const masterPid = () => {
    try {
      return Number(readFileSync(masterPidFile, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const stopNow = () => {
    spawnSync(tools.postfix, ['-c', etc, 'stop'], { stdio: 'ignore' });
  };
  const forget = onAbort(stopNow);
  const { connect } = await import('node:net');
  for (let attempt = 0; ; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: options.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (attempt > 200 || child.exitCode !== null) {
      stopNow();
      forget();
      throw new Error(`postfix is not listening on 127.0.0.1:${options.port}: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const maillogPath = join(dir, 'maillog');
  return {
    port: options.port,
    dir,
    masterPid,
    maillog: () => (existsSync(maillogPath) ? readFileSync(maillogPath, 'utf8') : ''),
    held: () => countFiles(join(dir, 'spool', 'hold')),
    releaseHeld() {
      run(tools.postsuper, ['-c', etc, '-H', 'ALL']);
      run(tools.postqueue, ['-c', etc, '-f']);
    },
    async stop() {
      stopNow();
      const timer = setTimeout(() => {
        const pid = masterPid();
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
        child.kill('SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(timer);
      forget();
    },
  };
}
