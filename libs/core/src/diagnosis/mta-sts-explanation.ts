import type { CategoryExplanation } from '../dsn/explain-category.ts';

/**
 * The explanation of `mta_sts_tls_required` (libs/core/src/delivery/categories.ts): the recipient's
 * domain publishes an MTA-STS policy in "enforce" mode (RFC 8461), so its mail may only go to the
 * MX hosts the policy lists, over TLS with a certificate valid for the host's name, and none of
 * them offered that. It is retried: a fixed server or an updated policy lets the mail through.
 */
export const MTA_STS_EXPLANATION: CategoryExplanation = {
  cause:
    "TLS required by the receiver's MTA-STS policy: the recipient's domain publishes that its mail must reach its servers over a verified encrypted connection, and none of its mail servers offered one we could verify (no encryption, a certificate that is expired, self-signed or for another name, or a server the policy does not list).",
  advice:
    "This is on the receiving side, and the message was not sent unprotected. We keep trying; if it persists, tell the recipient another way that their domain's mail servers do not match their MTA-STS policy.",
  operatorAction:
    "Nothing on our side unless every enforce-mode domain fails: then check the CAs the workers trust (OUTPOST_MTA_STS_CA_FILE, the system store). Otherwise the receiving domain's servers do not match its own policy.",
};
