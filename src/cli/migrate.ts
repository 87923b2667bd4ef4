import type { Settings } from '../config.js';
import { closeDatabase, createDatabase } from '../db/database.js';
import { redactUrl } from '../shared/redact-url.js';
import { migrateToLatest } from '../db/migrate.js';

export async function migrateCommand(settings: Readonly<Settings>, print: (line: string) => void): Promise<number> {
  const db = createDatabase(settings.databaseUrl);
  try {
    const { applied } = await migrateToLatest(db);
    print(applied.length ? `Applied ${applied.length} migration(s) to ${redactUrl(settings.databaseUrl)}: ${applied.join(', ')}` : `${redactUrl(settings.databaseUrl)} is up to date.`);
    return 0;
  } finally {
    await closeDatabase(db);
  }
}
