/**
 * Runs work item by item and gives the event loop a turn whenever a slice has taken
 * `sliceMs`, so an exporter's 100k values per poll never hold the ports and the pollers for
 * long (the daemon keeps its event-loop delay under 50 ms).
 */
export const SLICE_MS = 8;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function forEachSliced<T>(items: Iterable<T>, work: (item: T) => void, sliceMs = SLICE_MS): Promise<void> {
  let sliceStart = performance.now();
  for (const item of items) {
    work(item);
    if (performance.now() - sliceStart >= sliceMs) {
      await turn();
      sliceStart = performance.now();
    }
  }
}
