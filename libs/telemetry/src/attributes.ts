/**
 * Attribute keys shared by spans, log lines, attempt records and metrics. There is no official SMTP
 * semantic convention, so standard keys are reused where they fit and our own are named once here.
 * Recipient local parts never go into span attributes (personal data): domains only.
 */
export const ATTR = {
  // standard OpenTelemetry keys
  serverAddress: 'server.address',
  serverPort: 'server.port',
  peerAddress: 'network.peer.address',
  errorType: 'error.type',
  messagingSystem: 'messaging.system',
  messagingDestination: 'messaging.destination.name',
  messagingMessageId: 'messaging.message.id',
  dnsQuestionName: 'dns.question.name',
  tlsEstablished: 'tls.established',
  tlsProtocolName: 'tls.protocol.name',
  tlsProtocolVersion: 'tls.protocol.version',
  // ours
  messageId: 'outpost.message.id',
  attempt: 'outpost.attempt',
  domain: 'outpost.domain',
  status: 'outpost.status',
  category: 'outpost.category',
  verdict: 'outpost.verdict',
  recipientCount: 'outpost.recipient.count',
  size: 'outpost.message.size',
  protocol: 'outpost.protocol',
  smtpReplyCode: 'smtp.reply.code',
  smtpReplyEnhanced: 'smtp.reply.enhanced',
  dnsRecordType: 'dns.question.type',
  tlsMode: 'outpost.tls.mode',
  tlsCertificateVerified: 'outpost.tls.certificate_verified',
  tlsError: 'outpost.tls.error',
  mtaStsMode: 'outpost.mta_sts.mode',
  mtaStsPolicyId: 'outpost.mta_sts.policy_id',
} as const;

export type AttributeKey = (typeof ATTR)[keyof typeof ATTR];
