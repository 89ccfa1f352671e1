// Pure logic of the delivery side (routing, MX ordering, classification, retry schedule).
export * from './categories.ts';
export * from './classify.ts';
export * from './delivery-event.ts';
export * from './destination-addresses.ts';
export * from './mx-order.ts';
export * from './retry-schedule.ts';
export * from './transport-map.ts';
