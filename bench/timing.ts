// Timing and memory helpers for the benchmark: medians over repetitions after warm-up, the
// yardstick and the subject timed in alternation (so that load from other processes hits both
// alike), and the resident-set high-water mark.
import { readFileSync, writeFileSync } from 'node:fs';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timed(run: (rep: number) => Promise<unknown>, rep: number): Promise<number> {
  const start = performance.now();
  await run(rep);
  return performance.now() - start;
}

/** Median milliseconds of `run` over `reps` repetitions after `warmUp` untimed ones. */
export async function medianMs(run: (rep: number) => Promise<unknown>, reps: number, warmUp = 2): Promise<number> {
  for (let i = 0; i < warmUp; i++) await run(-1 - i);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await timed(run, i));
  return median(times);
}

export interface PairedTiming {
  subjectMs: number;
  yardstickMs: number;
  /** Median over the repetitions of subject / yardstick, each pair timed back to back. */
  ratio: number;
}

/** Subject and yardstick in alternation: medians of each and the median of the per-pair ratios. */
export async function pairedMs(subject: (rep: number) => Promise<unknown>, yardstick: () => Promise<unknown>, reps: number, warmUp = 2): Promise<PairedTiming> {
  for (let i = 0; i < warmUp; i++) {
    await subject(-1 - i);
    await yardstick();
  }
  const s: number[] = [];
  const y: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < reps; i++) {
    const ys = await timed(yardstick, i);
    const ss = await timed(subject, i);
    y.push(ys);
    s.push(ss);
    ratios.push(ss / ys);
  }
  return { subjectMs: median(s), yardstickMs: median(y), ratio: median(ratios) };
}

function statusMiB(field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set of the process so far, in MiB (Linux VmHWM, else Node's maxRSS). */
export function peakRssMiB(): number {
  return statusMiB('VmHWM') ?? process.resourceUsage().maxRSS / 1024;
}

/** Resets the peak to the current resident set (Linux only); false where that is not possible. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
