import { z } from 'zod';
import { deliverMessage, listMessages, pendingMessages, sendMessage } from '../core/inbox.js';
import { force, id, identity, paging, text } from '../registry/common-params.js';
import { defineMethod } from '../registry/define.js';

export const inboxMethods = [
  defineMethod({
    name: 'inbox.send',
    group: 'orch_inbox',
    summary: "Send a message to a thread; the sender defaults to the caller's thread.",
    params: z.strictObject({
      receiver_thread_id: id('Receiving thread'),
      message: text('Message text, stored verbatim').pipe(z.string().max(50_000)),
      sender_thread_id: id('Sending thread').optional(),
      ...identity,
    }),
    example: { receiver_thread_id: 2, message: 'Please release src/auth when done.' },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => sendMessage(ctx, params),
  }),
  defineMethod({
    name: 'inbox.pending',
    group: 'orch_inbox',
    summary: "Undelivered messages for a thread (default: the caller's), oldest first.",
    params: z.strictObject({ receiver_thread_id: id('Receiving thread').optional(), ...identity, ...paging }),
    example: {},
    mutates: false,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => pendingMessages(ctx, params),
  }),
  defineMethod({
    name: 'inbox.list',
    group: 'orch_inbox',
    summary: 'Every message a thread sent or received.',
    params: z.strictObject({ ...identity, ...paging }),
    example: { thread_id: 1 },
    mutates: false,
    handler: ({ session_id: _s, ...params }, ctx) => listMessages(ctx, params),
  }),
  defineMethod({
    name: 'inbox.deliver',
    group: 'orch_inbox',
    summary: 'Mark a message to you as delivered (once).',
    params: z.strictObject({ message_id: id('Inbox message'), ...identity, ...force }),
    example: { message_id: 1 },
    mutates: true,
    handler: ({ session_id: _s, thread_id: _t, ...params }, ctx) => deliverMessage(ctx, params),
  }),
];
