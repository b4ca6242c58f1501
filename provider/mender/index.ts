export * from './client';
export { SEARCH_CHUNK, chunks, runningImages } from './observed';
// provider/rollout.ts takes the statuses from here; their home is the health vocabulary.
export { FAILED_DEVICE_STATUSES, FINISHED_DEVICE_STATUSES } from '../../shared/health';
export { MenderApiError, isMenderApiError, isNotFound, redact } from './errors';
export type { MenderErrorContext, MenderErrorKind } from './errors';
export { mapLimited, mapLimitedSettled, Semaphore } from './concurrency';
export { paginate, parseLinkHeader, collect } from './paging';
export { parseRetryAfter, backoffDelay, sleep } from './retry';
export type * from './schemas';
