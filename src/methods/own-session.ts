import { z } from 'zod';

/** Param and adoption shared by the calls a restarted agent makes first (work.current_ref, resume.next). */
export const fingerprint = z
  .string()
  .max(500)
  .optional()
  .describe('The terminal_fingerprint your session was opened with; finds it when this server has no session yet');

/** A call that found the caller's session (a restarted agent) makes the server act as it. */
export const resumedSession = (result: unknown) => (result as { resumed_session?: { id?: number } }).resumed_session?.id;
