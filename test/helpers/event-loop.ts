// How often the event loop turns while `work` runs: a ticker re-queues itself with setImmediate,
// so it counts one turn each time the loop gets back to it. Code that holds the thread from start
// to end lets it turn at most once or twice.
export async function eventLoopTurnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    done = true;
  }
  return turns;
}
