/**
 * The reference peers come from Debian's postfix package (postfix, smtp-source, smtp-sink) and from
 * dnsmasq. They need root: smtp-sink listens on port 25, dnsmasq on port 53, and Postfix runs in its
 * own mount namespace (unshare -m) so that its resolv.conf can point at dnsmasq without touching the
 * machine's own.
 */
import { spawnSync } from 'node:child_process';

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SEARCH_PATH].filter(Boolean);
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    if (spawnSync('test', ['-x', path]).status === 0) return path;
  }
  return undefined;
}

export interface PeerTools {
  postfix: string;
  postconf: string;
  postsuper: string;
  postqueue: string;
  smtpSource: string;
  smtpSink: string;
  dnsmasq: string;
  unshare: string;
  postfixVersion: string;
  dnsmasqVersion: string;
}

/** What the reference needs, or the reason it cannot run here. */
export function peerTools(): { tools: PeerTools } | { missing: string } {
  if (process.getuid?.() !== 0) return { missing: 'not root (smtp-sink needs port 25, dnsmasq port 53)' };
  const found = {
    postfix: findTool('postfix'),
    postconf: findTool('postconf'),
    postsuper: findTool('postsuper'),
    postqueue: findTool('postqueue'),
    smtpSource: findTool('smtp-source'),
    smtpSink: findTool('smtp-sink'),
    dnsmasq: findTool('dnsmasq'),
    unshare: findTool('unshare'),
  };
  const absent = Object.entries(found)
    .filter(([, path]) => path === undefined)
    .map(([name]) => name);
  if (absent.length > 0) return { missing: `not installed: ${absent.join(', ')}` };
  const postconf = spawnSync(found.postconf!, ['-d', '-h', 'mail_version'], { encoding: 'utf8' });
  const dnsmasq = spawnSync(found.dnsmasq!, ['--version'], { encoding: 'utf8' });
  return {
    tools: {
      ...(found as Omit<PeerTools, 'postfixVersion' | 'dnsmasqVersion'>),
      postfixVersion: postconf.stdout.trim() || 'unknown',
      dnsmasqVersion: dnsmasq.stdout.match(/version (\S+)/)?.[1] ?? 'unknown',
    },
  };
}
