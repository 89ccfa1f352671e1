import { buildDeliveryStatus, isGlobalReport } from './build-delivery-status.ts';
import { buildHumanText } from './build-human-text.ts';
import type { DsnReport } from './dsn-report.ts';

/** The parts of a multipart/report (RFC 6522) DSN, ready to be put into MIME. */
export interface ComposedDsn {
  subject: string;
  /** text/plain; charset=utf-8 */
  humanText: string;
  statusContentType: 'message/delivery-status' | 'message/global-delivery-status';
  deliveryStatus: string;
  /** RFC 6522 §4 / RFC 6533 §6: the type of the third part, the returned headers or message. */
  returnedContentType: 'text/rfc822-headers' | 'message/global-headers' | 'message/rfc822' | 'message/global';
}

const SUBJECTS = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delivery Status Notification (Delay)',
  delivered: 'Delivery Status Notification (Success)',
} as const;

/** Everything a DSN says, built from the report alone (pure: dates and ids are in the report). */
export function composeDsn(report: DsnReport): ComposedDsn {
  const global = isGlobalReport(report);
  const whole = report.returned === 'message';
  return {
    subject:
      report.audience === 'postmaster' ? `Postmaster Copy: ${SUBJECTS.failed}` : SUBJECTS[report.event],
    humanText: buildHumanText(report),
    statusContentType: global ? 'message/global-delivery-status' : 'message/delivery-status',
    deliveryStatus: buildDeliveryStatus(report),
    returnedContentType: whole
      ? global
        ? 'message/global'
        : 'message/rfc822'
      : global
        ? 'message/global-headers'
        : 'text/rfc822-headers',
  };
}
