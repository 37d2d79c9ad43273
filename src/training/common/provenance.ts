// Provenance without the build host. A manifest travels with its model and /v1/models/{name}
// serves it, so the paths of the machine that trained it (/usr/share/datasets/..., /tmp/...,
// /home/<user>/...) tell its readers nothing they can use and show the host's layout. Paths are
// kept as their last component: the file or folder name, which is what identifies the data
// (with its size and SHA-256, and the Debian package named next to it).
import { basename } from 'node:path';

/** An absolute or home-relative path, at the start of the text or after whitespace or '='. */
const PATH = /(^|[\s=])((?:~|\/)[^\s]+|~)/g;

/** `text` with each path in it reduced to its last component: "--out /tmp/runs/m --seed 0" -> "--out m --seed 0". */
export function portableText(text: string): string {
  return text.replace(PATH, (_match, lead: string, path: string) => lead + basename(path));
}

/** A copy of `value` with portableText applied to every string in it (object keys are left alone). */
export function portableProvenance<T>(value: T): T {
  if (typeof value === 'string') return portableText(value) as T;
  if (Array.isArray(value)) return value.map((v) => portableProvenance(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, portableProvenance(v)])) as T;
  }
  return value;
}
