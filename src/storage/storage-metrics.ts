/** What the storage layer reports to whoever measures it (the HTTP layer's Prometheus registry). */
export interface StorageObserver {
  uploaded(event: { kind: string; bytes: number; seconds: number }): void;
  failed(event: { operation: string; code: string }): void;
}

export const noopObserver: StorageObserver = { uploaded() {}, failed() {} };
