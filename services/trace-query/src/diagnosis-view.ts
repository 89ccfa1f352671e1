import { explainCategory, type RecipientStatus } from '@outpost/core';
import type { DeliveryEntry, RecipientState, RecipientVerdict } from '@outpost/store';
import type { HeldEntry } from './held-deliveries.ts';
import type { MessageView } from './message-view.ts';

/** What went wrong and what to do about it: shown beside every failure by the API and the page. */
export interface Diagnosis {
  /** The failure category id (libs/core/src/delivery/categories.ts), or `held` for an operator's hold. */
  category: string;
  explanation: string;
  action: string;
}

export type Diagnosed<T> = T & { diagnosis?: Diagnosis };

/** Statuses that need no explanation: it went out, or nothing has happened yet. */
const NOTHING_TO_EXPLAIN: ReadonlySet<RecipientStatus> = new Set(['delivered', 'queued']);

/** The diagnosis of an outcome with a reply category; undefined for one that needs none. */
export function diagnoseOutcome(
  status: RecipientStatus,
  category: string | undefined,
): Diagnosis | undefined {
  if (NOTHING_TO_EXPLAIN.has(status) || status === 'held' || !category) return undefined;
  // The page and the API are for operators: their action, not the advice the sender's DSN gives.
  const { cause, operatorAction } = explainCategory(category);
  if (status === 'expired')
    return {
      category,
      explanation: `The queue lifetime ran out before it could be delivered. The last problem: ${cause}`,
      action: operatorAction,
    };
  return { category, explanation: cause, action: operatorAction };
}

export type HoldScope =
  | { heldBy: 'message'; messageId: string; by?: string }
  | { heldBy: 'domain'; domain: string; by?: string };

/**
 * `held` is a status, not a reply: nothing went wrong at the receiver, an operator paused it. The
 * lifetime keeps running while it waits (a message held past it expires), so say how to resume.
 */
export function heldDiagnosis(scope: HoldScope): Diagnosis {
  const who = scope.by && scope.by !== 'unknown' ? ` (${scope.by})` : '';
  if (scope.heldBy === 'message')
    return {
      category: 'held',
      explanation: `Delivery paused by an operator${who}: this message is held and waits until it is released; its queue lifetime keeps running.`,
      action: `Release it with \`outpost message release ${scope.messageId}\` or POST /v1/messages/${scope.messageId}/release.`,
    };
  return {
    category: 'held',
    explanation: `Delivery paused by an operator${who}: mail for ${scope.domain} is held and waits until the domain is resumed; its queue lifetime keeps running.`,
    action: `Resume it with \`outpost destination resume ${scope.domain}\` or POST /v1/domains/${scope.domain}/release.`,
  };
}

/** A row of `/v1/deliveries` with its diagnosis. */
export function diagnoseEntry(entry: DeliveryEntry | HeldEntry): Diagnosed<DeliveryEntry | HeldEntry> {
  const diagnosis =
    'heldBy' in entry
      ? heldDiagnosis(
          entry.heldBy === 'message'
            ? { heldBy: 'message', messageId: entry.messageId, by: entry.by }
            : { heldBy: 'domain', domain: entry.domain, by: entry.by },
        )
      : diagnoseOutcome(entry.status, entry.category);
  return diagnosis ? { ...entry, diagnosis } : entry;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The message view with a diagnosis on every recipient's state and every attempt's failures. */
export function diagnoseMessageView(view: MessageView) {
  const recipients = view.recipients.map((state): Diagnosed<RecipientState> => {
    const diagnosis = recipientDiagnosis(view, state);
    return diagnosis ? { ...state, diagnosis } : state;
  });
  const attempts = view.attempts.map((attempt) => ({
    ...attempt,
    recipients: attempt.recipients.map((verdict): Diagnosed<RecipientVerdict> => {
      const diagnosis = diagnoseOutcome(verdict.status, verdict.category);
      return diagnosis ? { ...verdict, diagnosis } : verdict;
    }),
  }));
  return { ...view, recipients, attempts };
}

function recipientDiagnosis(view: MessageView, state: RecipientState): Diagnosis | undefined {
  if (state.status === 'held')
    return view.held
      ? heldDiagnosis({ heldBy: 'message', messageId: view.messageId, by: view.held.by })
      : heldDiagnosis({
          heldBy: 'domain',
          domain: domainOf(state.address),
          ...(state.by && { by: state.by }),
        });
  // `outpost message bounce`: the operator's own decision, not the receiver's.
  if (state.status === 'bounced' && state.by)
    return {
      category: state.category ?? 'unknown',
      explanation: `Returned to the sender by an operator (${state.by}); no receiver refused it.`,
      action: 'Nothing: the sender was told with a delivery status notification, as for any failure.',
    };
  return diagnoseOutcome(state.status, state.category);
}
