export * from './attempt-delivery.ts';
export * from './create-delivery.ts';
export * from './destination-route.ts';
export * from './process-delivery-job.ts';
