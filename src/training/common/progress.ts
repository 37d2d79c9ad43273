// Progress with ETA: a cli-progress bar on a terminal; plain periodic lines otherwise (logs of
// background runs), since a bar redrawn with carriage returns makes a log unreadable.
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, info: string): void;
  stop(): void;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} | ETA {eta_formatted} | {info}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return { update: (value, info) => bar.update(value, { info }), stop: () => bar.stop() };
  }
  const start = Date.now();
  let lastPrinted = -Infinity;
  const print = (value: number, info: string) => {
    const elapsed = (Date.now() - start) / 1000;
    const eta = value > 0 ? (elapsed * (total - value)) / value : Infinity;
    stream.write(`${label} ${value}/${total} (${Math.round((100 * value) / total)}%) elapsed ${formatSeconds(elapsed)} ETA ${formatSeconds(eta)} | ${info}\n`);
  };
  let last = { value: 0, info: '' };
  return {
    update(value, info) {
      last = { value, info };
      // At most one line per 10 s, and always the last one.
      if (Date.now() - lastPrinted >= 10_000 || value === total) {
        lastPrinted = Date.now();
        print(value, info);
      }
    },
    stop() {
      if (last.value !== total) print(last.value, last.info);
    },
  };
}
