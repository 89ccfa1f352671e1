/**
 * main.cf of the reference Postfix: a relay on 127.0.0.1 that sends everything from 127.0.0.0/8 to
 * the recipient domain's MX (DNS lookups), with its own queue and log under the scratch directory,
 * no local delivery and no TLS (Outpost's delivery runs without TLS against the same receivers).
 */
export interface PostfixSettings {
  dir: string;
  /** Where the scratch directory lives: Postfix writes its maillog only below allowed prefixes. */
  scratch: string;
  /** Retry timing: Postfix's defaults are 300s/4000s/300s; the deferred workload shortens them. */
  backoffMin?: string;
  backoffMax?: string;
  queueRunDelay?: string;
  /** Puts every accepted message on hold (ingest only; released later for delivery only). */
  holdEverything?: boolean;
}

export function postfixMainCf(settings: PostfixSettings): string {
  const lines = [
    'compatibility_level = 3.6',
    `queue_directory = ${settings.dir}/spool`,
    `data_directory = ${settings.dir}/data`,
    'myhostname = relay.bench.test',
    'mydomain = bench.test',
    'myorigin = bench.test',
    'mydestination =',
    'relay_domains =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    'smtpd_recipient_restrictions = permit_mynetworks, reject',
    'local_transport = error:local delivery disabled',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    'biff = no',
    'smtputf8_enable = no',
    'smtpd_tls_security_level = none',
    'smtp_tls_security_level = none',
    'smtp_host_lookup = dns',
    `maillog_file = ${settings.dir}/maillog`,
    `maillog_file_prefixes = ${settings.scratch}`,
    `minimal_backoff_time = ${settings.backoffMin ?? '300s'}`,
    `maximal_backoff_time = ${settings.backoffMax ?? '4000s'}`,
    `queue_run_delay = ${settings.queueRunDelay ?? '300s'}`,
  ];
  if (settings.holdEverything) lines.push('smtpd_data_restrictions = check_client_access static:HOLD');
  return `${lines.join('\n')}\n`;
}
