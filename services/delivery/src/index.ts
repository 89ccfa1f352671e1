export * from './attempt-delivery.ts';
export * from './create-delivery.ts';
export * from './destination-limiter.ts';
export * from './destination-route.ts';
export * from './operator-controls.ts';
export * from './process-delivery-job.ts';
