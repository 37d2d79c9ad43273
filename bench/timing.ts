// Timing and memory helpers for the benchmark: medians over repetitions after warm-up, tasks
// timed in alternation (so that load from other processes hits them alike), and the
// resident-set high-water mark.
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Times the tasks in turn, round after round (after `warmUp` untimed rounds), so that load from
 * other processes falls on all of them alike; `settleMs` of idle before each timed task, so that
 * none pays for threads the previous one left spinning. Returns times[task][round] in milliseconds.
 */
export async function interleavedMs(tasks: ((round: number) => Promise<unknown>)[], rounds: number, warmUp = 2, settleMs = 0): Promise<number[][]> {
  for (let i = 0; i < warmUp; i++) for (const task of tasks) await task(-1 - i);
  const times = tasks.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, task] of tasks.entries()) {
      if (settleMs > 0) await sleep(settleMs);
      times[i].push(await timed(task, round));
    }
  }
  return times;
}

/** Median over the rounds of a per-round quantity computed from two tasks' times. */
export function medianOfRounds(a: number[], b: number[], combine: (a: number, b: number) => number): number {
  return median(a.map((x, i) => combine(x, b[i])));
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
