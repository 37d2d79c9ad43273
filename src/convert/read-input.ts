// Reading a converter's input files: a refusal names the file and what it was meant to be.
import { readFile } from 'node:fs/promises';
import { ConvertError } from './errors.ts';

/** The bytes of `file`, or a ConvertError naming it as the `what` (e.g. "noise head"). */
export async function readBytes(file: string, what: string): Promise<Buffer> {
  const bytes = await readOptionalBytes(file, what);
  if (!bytes) throw new ConvertError(`${file}: cannot read the ${what} (no such file)`);
  return bytes;
}

/** Like readBytes, but undefined when the file does not exist. */
export async function readOptionalBytes(file: string, what: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConvertError(`${file}: cannot read the ${what} (${code ?? (e as Error).message})`);
  }
}

/** `bytes` (of `file`) parsed as JSON, or a ConvertError naming the file. */
export function parseJson(bytes: Buffer, file: string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ConvertError(`${file}: the ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** `file` parsed as JSON, or a ConvertError naming it. */
export async function readJson(file: string, what: string): Promise<unknown> {
  return parseJson(await readBytes(file, what), file, what);
}
