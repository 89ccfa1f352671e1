import {
  type FaultPlan,
  type FaultProxy,
  type SmtpReceiver,
  type SmtpScript,
  startFaultProxy,
} from '@outpost/testing';
import type { ReliabilityWorld } from './world.ts';

/**
 * A receiver on `host` reached through a fault proxy on `proxyHost` (same port): `domain`'s MX
 * points at the proxy, so every delivery attempt goes through the plan, connection by connection.
 */
export async function proxiedReceiver(
  world: ReliabilityWorld,
  options: {
    domain: string;
    host: string;
    proxyHost: string;
    plan: FaultPlan | ((connection: number) => FaultPlan | undefined);
    script?: SmtpScript;
    /** The receiver offers STARTTLS with this certificate. */
    tls?: { key: string; cert: string };
  },
): Promise<{ receiver: SmtpReceiver; proxy: FaultProxy }> {
  const receiver = await world.receiver(options.host, options.script ?? {}, options.tls);
  const proxy = await startFaultProxy({
    host: options.proxyHost,
    port: world.port,
    upstream: { host: options.host, port: world.port },
    plan: options.plan,
  });
  world.onStop(() => proxy.close());
  world.mx(options.domain, options.proxyHost);
  return { receiver, proxy };
}

/** Faults on the first connection only; later ones pass. */
export const firstConnection =
  (plan: FaultPlan) =>
  (connection: number): FaultPlan | undefined =>
    connection === 1 ? plan : undefined;

/** The end of DATA as the client sends it (RFC 5321 §4.1.1.4). */
export const FINAL_DOT = '\r\n.\r\n';
