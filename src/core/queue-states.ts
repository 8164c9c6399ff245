/** The main-merge queue's item states (apart, so interfaces can name them without loading the queue). */
export const QUEUE_STATES = [
  'queued',
  'checking',
  'waiting',
  'merged',
  'conflict',
  'gate_failed',
  'blocked_by_review',
  'cancelled',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
/** States an item leaves only by processing, a verdict or cancellation. */
export const OPEN_STATES: readonly QueueState[] = ['queued', 'checking', 'waiting', 'blocked_by_review'];
