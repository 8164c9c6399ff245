import { z } from 'zod';

/** Shared param pieces, so every method names things the same way. */

export const id = (what: string) => z.number().int().positive().describe(`${what} (id)`);

/** The caller's identity; defaults come from CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID. */
export const identity = {
  session_id: id('Calling session').optional(),
  thread_id: id('Calling thread (a child agent)').optional(),
};

/** Override of ownership checks; the reason is written to the audit log. */
export const force = {
  force: z.boolean().optional().describe('Act on an object owned by someone else; needs reason'),
  reason: z.string().min(1).optional().describe('Why force is used; recorded'),
};

export const paging = {
  limit: z.number().int().min(1).max(500).optional().describe('Page size (default 100, max 500)'),
  cursor: z.string().optional().describe('next_cursor from the previous page'),
};

/** Text that must contain something other than whitespace; stored verbatim. */
export const text = (description: string) =>
  z
    .string()
    .refine((value) => value.trim().length > 0, { message: 'must not be empty' })
    .describe(description);

export const paths = (description: string) => z.array(z.string().min(1)).max(1000).describe(description);
