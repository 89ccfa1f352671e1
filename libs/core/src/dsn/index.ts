// Pure logic of delivery status notifications (RFC 3461, RFC 3464, RFC 6533): no I/O, dates injected.
export * from './build-delivery-status.ts';
export * from './build-human-text.ts';
export * from './compose-dsn.ts';
export * from './dsn-report.ts';
export * from './explain-category.ts';
export * from './fold-field.ts';
export * from './notify-rules.ts';
export * from './wrap-text.ts';
export * from './xtext.ts';
