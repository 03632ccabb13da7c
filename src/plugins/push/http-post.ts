/**
 * One POST of one batch, classified the way push exporters must treat it (see push-queue):
 * 2xx delivered; 429 and 5xx retried, after Retry-After when the receiver sends one;
 * other statuses refused; network errors and timeouts retried. Node's fetch keeps the
 * connection alive between batches.
 */
import type { DeliveryOutcome } from './push-queue';

/** Most of a receiver's error body kept for the log line. */
const REASON_LIMIT = 300;
/** A Retry-After further away than this is not waited for in full (a misconfigured receiver). */
const RETRY_AFTER_CAP_MS = 5 * 60_000;

export interface HttpPost {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, RETRY_AFTER_CAP_MS);
}

export function classifyResponse(status: number, retryAfter: string | null, body: string, now: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = `HTTP ${status}${body ? `: ${body.trim().slice(0, REASON_LIMIT)}` : ''}`;
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
  }
  return { kind: 'rejected', reason };
}

export async function postBatch(request: HttpPost, now: () => number = Date.now): Promise<DeliveryOutcome> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${request.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { kind: 'retry', reason: `${request.url.origin}: ${why}` };
  }
  // Read the body in every case: it frees the kept-alive connection for the next batch.
  let body = '';
  try {
    body = await response.text();
  } catch {
    /* the status decides */
  }
  return classifyResponse(response.status, response.headers.get('retry-after'), response.ok ? '' : body, now());
}
