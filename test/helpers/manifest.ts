// Edits a checkpoint folder's manifest.json in place, for tests of the loader's refusals.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function editManifest(dir: string, edit: (m: Record<string, any>) => void): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(file, 'utf8'));
  edit(manifest);
  await writeFile(file, JSON.stringify(manifest, null, 2));
}
