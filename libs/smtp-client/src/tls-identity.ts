import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

/**
 * Certificate name check for MTA-STS (RFC 8461 §4.2 for MX hosts, §3.3 for the policy host): a
 * subjectAltName DNS-ID must match the host name per RFC 6125, with no fallback to the subject's
 * CN and a wildcard only as the whole left-most label. Node's own check runs first (it also
 * rejects IP mismatches); this adds the stricter DNS-ID rule.
 */
export function checkDnsIdentity(host: string, certificate: PeerCertificate): Error | undefined {
  const nodeError = checkServerIdentity(host, certificate);
  if (nodeError) return nodeError;
  let matches = false;
  try {
    matches =
      new X509Certificate(certificate.raw).checkHost(host, {
        subject: 'never',
        wildcards: true,
        partialWildcards: false,
        multiLabelWildcards: false,
        singleLabelSubdomains: false,
      }) !== undefined;
  } catch {
    matches = false;
  }
  if (matches) return undefined;
  return Object.assign(new Error(`the certificate has no subjectAltName DNS name matching ${host}`), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    host,
  });
}
