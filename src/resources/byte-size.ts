// Sizes in settings (`10MiB`, `4GiB`, or a number of bytes): parsing to bytes, printing, and the zod field.
import { z } from 'zod';

const UNIT_BYTES = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 } as const;
type Unit = keyof typeof UNIT_BYTES;

const SIZE_PATTERN = /^(\d+)\s*(B|KiB|MiB|GiB|TiB)$/;

export const BYTE_SIZE_RULE = 'a size such as 512KiB, 10MiB or 4GiB (units B, KiB, MiB, GiB, TiB) or a number of bytes';

/** Bytes in `s` (`10MiB`, or digits alone for bytes), or undefined when it is not a size. */
export function tryParseByteSize(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
  const m = SIZE_PATTERN.exec(s);
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNIT_BYTES[m[2] as Unit];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `bytes` in the largest unit it reaches: whole when exact (a configured `8GiB` prints back as `8GiB`), else to one decimal. */
export function formatByteSize(bytes: number): string {
  const units = Object.entries(UNIT_BYTES).reverse() as [Unit, number][];
  const [unit, size] = units.find(([, n]) => bytes >= n) ?? ['B', 1];
  const value = bytes / size;
  return `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}`;
}

/** A size setting: a string with a unit or a whole number of bytes, read as bytes. */
export const byteSizeSchema = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const bytes = tryParseByteSize(v.trim());
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not ${BYTE_SIZE_RULE}` });
      return z.NEVER;
    }
    return bytes;
  })
  .describe(`A size: ${BYTE_SIZE_RULE}.`);
