// Number flags of the command-line tools (node:util parseArgs gives strings).

/** `text` as a number that passes `check`, or an error naming the flag. */
export function numberFlag(flag: string, text: string, check: (v: number) => boolean = Number.isFinite): number {
  const v = Number(text);
  if (text.trim() === '' || !check(v)) throw new Error(`--${flag}: bad value "${text}"`);
  return v;
}

export const positiveInt = (v: number): boolean => Number.isSafeInteger(v) && v >= 1;
export const nonNegativeInt = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
