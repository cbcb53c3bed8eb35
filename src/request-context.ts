import { AsyncLocalStorage } from 'node:async_hooks';

/** The id of the HTTP request or WebSocket message being handled, for log lines that have no context at hand. */
export const requestScope = new AsyncLocalStorage<{ requestId: string }>();

export const currentRequestId = (): string | undefined => requestScope.getStore()?.requestId;
