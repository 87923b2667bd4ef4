export { ClamdScanner, type ClamdScannerOptions } from './clamd.scanner.js';
export { DisabledScanner, SCANNING_DISABLED } from './disabled.scanner.js';
export { ScanError, isScanError, type ScanErrorCode, type ScanInput, type ScanResult, type VirusScanner } from './virus-scanner.js';
export { EICAR_TEST_FILE } from './eicar.js';
