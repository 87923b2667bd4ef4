/**
 * The EICAR test file: the anti-virus industry's harmless "virus" that every scanner detects
 * (eicar.org). `customify doctor` scans it to prove clamd's signatures are loaded. Kept in two
 * halves so this source and the built bundle are not themselves flagged by a scanner on disk.
 */
export const EICAR_TEST_FILE = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR', '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join('');
