import { classify } from '../delivery/classify.ts';
import type { SmtpStage } from '../delivery/delivery-event.ts';
import { explainCategory } from '../dsn/explain-category.ts';
import { parseSmtpReply } from '../smtp-reply.ts';

export interface ReplyDiagnosis {
  /** What a careful MTA does with it: retry later, or give up and tell the sender. */
  verdict: 'temporary' | 'permanent' | 'success';
  /** RFC 3463 status: the reply's own, or derived from its code. */
  status: string;
  category: string;
  explanation: string;
  /** The classification rule that decided it (libs/core/src/delivery/classify.ts). */
  rule: string;
}

/**
 * `outpost explain`: the verdict, status, category and plain-language explanation of any SMTP reply
 * line, as delivery would judge it at `stage` (RCPT by default, where most refusals come).
 */
export function explainReply(line: string, stage: SmtpStage = 'rcpt'): ReplyDiagnosis | undefined {
  const reply = parseSmtpReply(line.trim());
  if (!reply) return undefined;
  const effectiveStage = reply.code < 300 ? 'end-of-data' : stage;
  const result = classify({ kind: 'reply', stage: effectiveStage, reply });
  const verdict =
    result.verdict === 'delivered' ? 'success' : result.verdict === 'deferred' ? 'temporary' : 'permanent';
  const explanation =
    result.category === 'delivered'
      ? 'The server accepted it.'
      : (() => {
          // `outpost explain` is the operator's tool: what it means, then what the operator can do.
          const { cause, operatorAction } = explainCategory(result.category);
          return `${cause} What to do: ${operatorAction}`;
        })();
  return { verdict, status: result.status, category: result.category, explanation, rule: result.rule };
}
