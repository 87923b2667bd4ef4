import { parseArgs } from 'node:util';
import type { Settings } from '../config.js';
import { AppError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { createStorageLayer } from '../storage/index.js';
import { applyPublicReadPolicy, applySeedCors, corsGaps, publicReadPolicy, publicReadResources, readBucketCors, SEED_CORS_RULES } from '../storage/s3-bucket-setup.js';
import type { S3Driver } from '../storage/s3.driver.js';
import { awsCliTarget } from '../storage/s3.errors.js';

/**
 * `customify s3 <subcommand>`: the seed's bucket setup (spec: AWS Setup, steps 2 and 3)
 * applied to the configured bucket, so that following the README ends in a passing doctor.
 */

type Print = (line: string) => void;

interface Subcommand {
  summary: string;
  run(settings: Readonly<Settings>, s3: S3Driver, dryRun: boolean, print: Print): Promise<number>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  'setup-policy': {
    summary: 'Apply the public-read bucket policy (PublicReadGetObject on the published prefixes only), which S3_PUBLIC_BUCKET=true needs',
    async run(settings, s3, dryRun, print) {
      if (!settings.s3PublicBucket) {
        throw new AppError(
          'S3_BUCKET_PRIVATE',
          'S3_PUBLIC_BUCKET=false: the API hands out signed URLs, and a public-read policy would make every object readable by anyone. Set S3_PUBLIC_BUCKET=true first if the bucket is meant to be public.',
          { field: 'S3_PUBLIC_BUCKET' },
        );
      }
      const policy = JSON.stringify(publicReadPolicy(s3.bucket));
      if (dryRun) {
        print(`Would put this bucket policy on "${s3.bucket}":\n${JSON.stringify(publicReadPolicy(s3.bucket), null, 2)}`);
        print(`The same with the AWS CLI: aws s3api put-bucket-policy --bucket ${s3.bucket} ${awsCliTarget(s3)} --policy '${policy}'`);
        return 0;
      }
      await applyPublicReadPolicy(s3);
      print(`Bucket "${s3.bucket}": put the PublicReadGetObject policy (anonymous s3:GetObject on ${publicReadResources(s3.bucket).join(', ')}; staging/, quarantine/ and the print files stay private), replacing any earlier bucket policy.`);
      print('Run customify doctor to check that an anonymous GET now answers 200.');
      return 0;
    },
  },
  'setup-cors': {
    summary: "Apply the seed's CORS rules: cross-origin GET and HEAD from any origin, with any header",
    async run(_settings, s3, dryRun, print) {
      const before = await readBucketCors(s3);
      const gaps = corsGaps(before);
      if (dryRun) {
        print(`Bucket "${s3.bucket}" CORS now: ${before === null ? 'none' : JSON.stringify(before)}${gaps.length ? ` (${gaps.join('; ')})` : " (already allows what the seed's rules allow)"}.`);
        print(`Would put: ${JSON.stringify(SEED_CORS_RULES)}`);
        print(`The same with the AWS CLI: aws s3api put-bucket-cors --bucket ${s3.bucket} ${awsCliTarget(s3)} --cors-configuration '${JSON.stringify({ CORSRules: SEED_CORS_RULES })}'`);
        return 0;
      }
      await applySeedCors(s3);
      print(`Bucket "${s3.bucket}": put the seed's CORS rules ${JSON.stringify(SEED_CORS_RULES)}${before && before.length ? `, replacing ${JSON.stringify(before)}` : ''}.`);
      return 0;
    },
  },
};

export function s3Help(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length));
  return [
    'Usage: customify s3 <subcommand> [--dry-run]',
    '',
    'Set up the bucket named by S3_BUCKET_NAME (S3 mode: USE_LOCAL_STORAGE=false) as the seed does:',
    ...Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    '--dry-run prints what would be applied, and the equivalent aws command, without changing the bucket.',
  ].join('\n');
}

/** `customify s3 ...`: returns the exit code; AppError for a wrong mode or a refused call. */
export async function s3Command(args: string[], loadSettings: () => Readonly<Settings>, print: Print): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${s3Help()}`);
    return 2;
  }
  const [name, ...extra] = parsed.positionals;
  if (parsed.values.help || !name) {
    print(s3Help());
    return parsed.values.help ? 0 : 2;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub || extra.length > 0) {
    console.error(`${sub ? `Unexpected argument "${extra[0]}"` : `Unknown s3 subcommand "${name}"`}.\n\n${s3Help()}`);
    return 2;
  }
  const settings = loadSettings();
  if (settings.useLocalStorage) {
    throw new AppError('S3_MODE_REQUIRED', 'customify s3 sets up an S3 bucket, but USE_LOCAL_STORAGE=true: set USE_LOCAL_STORAGE=false and S3_BUCKET_NAME (see README.md, Test S3 storage).', { field: 'USE_LOCAL_STORAGE' });
  }
  const { storage } = await createStorageLayer(settings, { logger: silentLogger });
  try {
    const s3 = storage.driver as S3Driver;
    // A missing bucket or refused credentials: say so before anything else.
    await s3.assertBucket();
    return await sub.run(settings, s3, parsed.values['dry-run'] === true, print);
  } finally {
    await storage.close();
  }
}
