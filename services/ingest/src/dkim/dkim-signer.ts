import { domainToASCII } from 'node:url';
import type { dkimSign } from 'mailauth/lib/dkim/sign.js';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { DkimKey, DkimKeyring } from './dkim-keys.ts';

/**
 * Signed headers (RFC 6376 §5.4.1): the ones a receiver shows or threads by. From and Subject are
 * listed once more than they occur ("oversigning", §8.15) so that nobody can add a second one
 * without breaking the signature.
 */
export const SIGNED_HEADERS = [
  'From',
  'From',
  'Subject',
  'Subject',
  'To',
  'Cc',
  'Reply-To',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
];

export interface DkimOutcome {
  /** The d=/s= pairs of the signatures added; empty when the message went unsigned. */
  signatures: Array<{ domain: string; selector: string; algorithm: string }>;
  /** Why it is unsigned (no key for the From domain, no From ...), for the records. */
  note?: string;
}

/** The addresses of a From: field (RFC 5322 §3.6.2 allows several), lower-cased. */
export function fromAddresses(fromHeader: string | undefined): string[] {
  if (!fromHeader) return [];
  const parsed = addressparser(fromHeader, { flatten: true }) as Array<{ address?: string }>;
  return parsed.flatMap((entry) => (entry.address ? [entry.address.toLowerCase()] : []));
}

/** The domain of the (first) From: address, A-label form. */
export function fromDomain(fromHeader: string | undefined): string | undefined {
  const address = fromAddresses(fromHeader)[0] ?? '';
  const at = address.lastIndexOf('@');
  if (at === -1) return undefined;
  return domainToASCII(address.slice(at + 1).toLowerCase()) || undefined;
}

/** The keys for a From domain: its own, or (when allowed) those of its nearest parent that has some. */
export function keysFor(ring: DkimKeyring, domain: string, useParent: boolean): DkimKey[] {
  const labels = domain.split('.');
  for (let i = 0; i < (useParent ? labels.length - 1 : 1); i++) {
    const keys = ring.get(labels.slice(i).join('.'));
    if (keys && keys.length > 0) return keys;
  }
  return [];
}

/**
 * Signs with every key of the From domain: relaxed/relaxed (RFC 6376 §3.4), once, before storing.
 * mailauth is loaded here, only when keys are configured (it and its dependencies cost a process
 * ~10 MB), and at start: a broken install stops ingest instead of refusing every message.
 */
export async function createDkimSigner(ring: DkimKeyring, options: { useParentDomain: boolean }) {
  const { dkimSign: sign } = await import('mailauth/lib/dkim/sign.js');
  return async (
    message: Buffer,
    fromHeader: string | undefined,
  ): Promise<{ message: Buffer; outcome: DkimOutcome }> => {
    const domain = fromDomain(fromHeader);
    if (!domain) return { message, outcome: { signatures: [], note: 'no From: address to sign for' } };
    const keys = keysFor(ring, domain, options.useParentDomain);
    if (keys.length === 0) return { message, outcome: { signatures: [], note: `no DKIM key for ${domain}` } };
    // mailauth signs with `signatureData`; its typings also demand the single-key fields it ignores then.
    const signOptions = {
      canonicalization: 'relaxed/relaxed',
      headerList: SIGNED_HEADERS,
      signatureData: keys.map((key) => ({
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKey,
        algorithm: key.algorithm,
      })),
    } as unknown as Parameters<typeof dkimSign>[1];
    const result = await sign(message, signOptions);
    if (!result.signatures) {
      const reason = result.errors?.map((entry) => entry.err?.message).join('; ') ?? 'unknown';
      return { message, outcome: { signatures: [], note: `DKIM signing failed: ${reason}` } };
    }
    return {
      message: Buffer.concat([Buffer.from(result.signatures, 'latin1'), message]),
      outcome: {
        signatures: keys.map((key) => ({
          domain: key.domain,
          selector: key.selector,
          algorithm: key.algorithm,
        })),
      },
    };
  };
}

export type DkimSigner = Awaited<ReturnType<typeof createDkimSigner>>;
