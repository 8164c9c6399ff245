import { parseClaudeEvent } from './claude-events.js';
import { parseCodexEvent } from './codex-events.js';
import type { RunnerEvent } from './types.js';

/** One line of either headless runner's JSONL (their event types do not overlap). */
export function parseRunnerEvent(line: string): RunnerEvent | undefined {
  return parseCodexEvent(line) ?? parseClaudeEvent(line);
}

/** What a headless runner's event stream says about its thread so far. */
export interface EventSummary {
  /** `unknown`: no event said anything yet (the runner may have failed before its first event). */
  status: 'running' | 'completed' | 'failed' | 'unknown';
  last_text?: string;
  /** The run's totals: both CLIs report running totals, so this is the last figure reported. */
  usage: { input_tokens: number; cached_input_tokens: number; output_tokens: number };
  /** The error that ended the run, or the latest one while it still runs; cleared on completion. */
  error?: string;
  /** How many lines were understood as events. */
  events: number;
}

/** Folds an events.jsonl (its text, or its lines) into an EventSummary. */
export function summarizeEvents(lines: Iterable<string> | string): EventSummary {
  const summary: EventSummary = { status: 'unknown', usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 }, events: 0 };
  for (const line of typeof lines === 'string' ? lines.split('\n') : lines) {
    const event = parseRunnerEvent(line);
    if (!event) continue;
    summary.events++;
    if (event.text) summary.last_text = event.text;
    if (event.usage) summary.usage = { ...summary.usage, ...event.usage };
    if (event.error) summary.error = event.error;
    if (event.status) summary.status = event.status;
    if (event.status === 'completed') delete summary.error;
  }
  return summary;
}

/** The line tee-events prints in the pane for an event, or undefined when it has nothing to show. */
export function describeEvent(event: RunnerEvent): string | undefined {
  if (event.status === 'completed') {
    const usage = event.usage;
    const tokens = usage
      ? ` (tokens: ${usage.input_tokens ?? 0} in, ${usage.cached_input_tokens ?? 0} cached, ${usage.output_tokens ?? 0} out)`
      : '';
    return `[done] ${event.text ?? 'completed'}${tokens}`;
  }
  if (event.status === 'failed') return `[failed] ${event.error ?? event.text ?? 'failed'}`;
  return event.text ? `${event.error ? '!' : '>'} ${event.text}` : undefined;
}
