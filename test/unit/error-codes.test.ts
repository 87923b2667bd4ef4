import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, errorCodesWithStatus, isErrorCode } from '../../src/error-codes.js';
import { AppError, ValidationError } from '../../src/errors.js';
import { statusForCode, toHttpError } from '../../src/http/error-handler.js';
import { FIELD_ERROR_CODES, KEYWORD_ERROR_CODES } from '../../src/http/schemas.js';
import { STORAGE_ERROR_CODES } from '../../src/storage/storage-errors.js';

const SRC = path.resolve(import.meta.dirname, '../../src');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

// Where a code is written as a literal: `new XError('CODE'`, `super('CODE'`, `code: 'CODE'`,
// `XError(\n 'CODE'` and ternaries choosing between codes inside such a call.
const CODE_SITES = [
  /new [A-Za-z]*Error\(\s*(?:[^'(),]*\?\s*)?'([A-Z][A-Z0-9_]+)'(?:\s*:\s*'([A-Z][A-Z0-9_]+)')?/g,
  /super\(\s*'([A-Z][A-Z0-9_]+)'/g,
  /\bcode:\s*'([A-Z][A-Z0-9_]+)'/g,
];

async function codesWrittenInSrc(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const file of await sourceFiles(SRC)) {
    const text = await readFile(file, 'utf8');
    for (const pattern of CODE_SITES) {
      for (const match of text.matchAll(pattern)) {
        for (const code of match.slice(1)) if (code) found.set(code, path.relative(SRC, file));
      }
    }
  }
  return found;
}

describe('the error-code registry', () => {
  it('registers every code written in src/', async () => {
    const found = await codesWrittenInSrc();
    // The scan must actually find the codes, or this test could never fail.
    expect(found.size).toBeGreaterThan(40);
    const unregistered = [...found].filter(([code]) => !isErrorCode(code)).map(([code, file]) => `${code} (${file})`);
    expect(unregistered).toEqual([]);
  });

  it('registers the codes schema failures and storage failures answer with', () => {
    const codes = [
      ...Object.values(FIELD_ERROR_CODES).flatMap((byKeyword) => Object.values(byKeyword)),
      ...Object.values(KEYWORD_ERROR_CODES),
      ...Object.keys(STORAGE_ERROR_CODES),
    ];
    expect(codes.filter((code) => !isErrorCode(code))).toEqual([]);
  });

  it('gives each code the status of its entry, not of its spelling', () => {
    // Spelled like bad input, but the values come from our own code and configuration.
    expect(statusForCode('INVALID_RENDER_OPTION')).toBe(500);
    expect(toHttpError(new AppError('INVALID_IMAGE', 'could not decode')).status).toBe(500);
    expect(toHttpError(new ValidationError('INVALID_LEASE', 'bad lease', 'leaseMs')).status).toBe(500);
    // Spelled like "not found", but a missing stored object is our fault.
    expect(statusForCode('STORAGE_OBJECT_NOT_FOUND')).toBe(500);
    expect(statusForCode('DESIGN_NOT_FOUND')).toBe(404);
    expect(statusForCode('UNKNOWN_FONT')).toBe(400);
    expect(statusForCode('RENDER_THREAD_DIED')).toBe(503);
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(statusForCode(code), code).toBe(info.status);
      expect(info.description.length, code).toBeGreaterThan(10);
    }
  });

  it('lists the codes of a status, for the OpenAPI error responses', () => {
    expect(errorCodesWithStatus(404)).toEqual(expect.arrayContaining(['DESIGN_NOT_FOUND', 'ROUTE_NOT_FOUND', 'FILE_NOT_FOUND']));
    expect(errorCodesWithStatus(404)).not.toContain('STORAGE_OBJECT_NOT_FOUND');
    expect(errorCodesWithStatus(400)).toEqual(expect.arrayContaining(['INVALID_UTF8', 'DUPLICATE_HEADER', 'UNKNOWN_FONT']));
    expect(errorCodesWithStatus(400)).not.toContain('INVALID_TTL'); // the command line's
    expect(errorCodesWithStatus(500)).toEqual(['INTERNAL_ERROR']); // internal codes are hidden
    expect(errorCodesWithStatus(503)).toEqual(expect.arrayContaining(['DATABASE_UNAVAILABLE', 'STORAGE_UNAVAILABLE']));
  });
});
