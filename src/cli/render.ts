import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../config.js';
import { AppError, ValidationError, describeError } from '../errors.js';
import { designWarnings, loadWatermark, renderRenditions, validateDesignSpec, type DesignSpec } from '../rendering/index.js';
import { renderPrintFiles, type PrintFiles } from '../print/index.js';

type Values = Record<string, string | boolean | undefined>;

/** Which command-line option sets each field of the design, for error messages. */
const OPTION_OF_FIELD: Record<string, string> = {
  product_type: '--product-type',
  'design_data.text': '--text',
  'design_data.font': '--font',
  'design_data.color': '--color',
  'design_data.text_color': '--text-color',
};

/**
 * `customify render`: one design to `DIR/preview.png` (600x600), `DIR/thumbnail.png` (fits
 * 200x200) and every other rendition the settings ask for (RENDITIONS x IMAGE_FORMATS:
 * `DIR/large.webp`...), with no server, storage or database. Prints the paths it wrote.
 * `--watermark` draws the deployment's watermark (WATERMARK_*) as a watermarked design has it.
 * With `--print`, also the product's print files, `DIR/print.png` and `DIR/print.pdf`, at
 * the print size its spec gives (settings.printSpecs); `--design-id` is the PDF's title. The design
 * is validated and rendered before anything is written, so bad input leaves no files.
 * Throws ValidationError naming the design field (`design_data.color`) and its option.
 * Warnings about the design (a text colour that hardly shows) go to `warn`, stderr by default:
 * the design is rendered anyway, as the API accepts it with the same warnings.
 */
export async function renderCommand(
  settings: Readonly<Settings>,
  values: Values,
  print: (line: string) => void,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const out = stringOption(values, 'out');
  if (!out) throw new AppError('OUT_REQUIRED', '--out DIR is required: the folder to write preview.png and thumbnail.png to (created if missing).', { field: 'out' });
  const text = stringOption(values, 'text');
  if (text === undefined) throw new ValidationError('TEXT_REQUIRED', 'design_data.text: --text is required, e.g. --text "Hello".', 'design_data.text');

  const spec = specFrom({
    product_type: stringOption(values, 'product-type') ?? 't-shirt',
    design_data: {
      text,
      font: stringOption(values, 'font') ?? 'Bebas-Bold',
      color: stringOption(values, 'color') ?? '#FF0000',
      ...(stringOption(values, 'text-color') === undefined ? {} : { text_color: stringOption(values, 'text-color') }),
    },
  });
  for (const warning of designWarnings(spec.design_data)) {
    const option = OPTION_OF_FIELD[warning.field];
    warn(`Warning: ${warning.message}${option ? ` (set with ${option})` : ''}`);
  }
  const watermarked = values.watermark === true;
  const watermark = watermarked ? await loadWatermark(settings) : null;
  if (watermarked && !watermark) throw new AppError('WATERMARK_NOT_CONFIGURED', '--watermark needs WATERMARK_TEXT or WATERMARK_IMAGE to be set.', { field: 'watermark' });
  const images = await renderRenditions(spec, {
    compressionLevel: settings.pngCompressionLevel, printAreas: settings.printSpecs,
    renditions: settings.renditions, formats: settings.imageFormats, watermark, watermarked,
  });
  const printFiles: PrintFiles = values.print === true
    ? await renderPrintFiles(spec, settings.printSpecs[spec.product_type], { title: stringOption(values, 'design-id') ?? 'cli-render', compressionLevel: settings.pngCompressionLevel })
    : { warnings: [] };

  const dir = path.resolve(out);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new AppError('OUT_NOT_A_FOLDER', `--out ${dir} is not a folder that can be created (${describeError(error)}): choose another path.`, { field: 'out', cause: error });
  }
  // The seed's two files first, as before renditions existed.
  const seedFirst = (name: string, format: string) => (format === 'png' && name === 'preview' ? 0 : format === 'png' && name === 'thumbnail' ? 1 : 2);
  const ordered = [...images].sort((a, b) => seedFirst(a.name, a.format) - seedFirst(b.name, b.format));
  const files: Array<[string, Buffer | undefined]> = [
    ...ordered.map((image): [string, Buffer] => [path.join(dir, `${image.name}.${image.format}`), image.data]),
    [path.join(dir, 'print.png'), printFiles.png],
    [path.join(dir, 'print.pdf'), printFiles.pdf],
  ];
  const written: string[] = [];
  try {
    for (const [file, bytes] of files) {
      if (!bytes) continue;
      await writeFile(file, bytes);
      written.push(file);
    }
  } catch (error) {
    throw new AppError('OUT_NOT_WRITABLE', `Could not write to ${dir} (${describeError(error)}): make it writable or choose another --out.`, { field: 'out', cause: error });
  }
  for (const file of written) print(file);
  return 0;
}

/** validateDesignSpec, with the option to change added to its message. */
function specFrom(input: unknown): DesignSpec {
  try {
    return validateDesignSpec(input);
  } catch (error) {
    if (!(error instanceof ValidationError) || !error.field) throw error;
    const field = error.field;
    const message = error.message.startsWith(field) ? error.message : `${field}: ${error.message}`;
    const option = OPTION_OF_FIELD[field];
    throw new ValidationError(error.code, option ? `${message} (set with ${option})` : message, field, { cause: error });
  }
}

function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}
