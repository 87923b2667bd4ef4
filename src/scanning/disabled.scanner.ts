import type { ScanInput, ScanResult, VirusScanner } from './virus-scanner.js';

export const SCANNING_DISABLED = 'scanning disabled';

/**
 * The embedded default when CLAMD_HOST is unset: nothing is scanned, and it says so.
 * `scan` drains a stream input (so a caller piping a staging file into it is not left with
 * a stalled stream) and answers `skipped`, never `clean`: the pipeline can record that the
 * upload was not scanned, and readiness can warn. SCAN_REQUIRED=true must refuse to start
 * with this adapter; that check belongs to the composition root, which sees `enabled`.
 */
export class DisabledScanner implements VirusScanner {
  readonly enabled = false;

  async scan(input: ScanInput): Promise<ScanResult> {
    if (!(input instanceof Uint8Array)) {
      for await (const _chunk of input) {
        // drain: the bytes are not looked at
      }
    }
    return { status: 'skipped', reason: SCANNING_DISABLED };
  }

  async ping(): Promise<void> {}

  version(): Promise<string> {
    return Promise.resolve(SCANNING_DISABLED);
  }
}
