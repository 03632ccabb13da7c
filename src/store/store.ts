/**
 * The store: the latest snapshot of every data source, swapped in whole per poll, and an
 * immutable TreeView of all of them for the servers. Listeners (the plugin chain) are told
 * synchronously after each swap.
 */
import type { DataSourceConfig } from '../config/types';
import type { SourceSnapshot, Summary, TreeNode } from './model';
import { keepAbsent } from './lifetime';
import { mergeSummaries, type SummaryPolicy, SUMMARIZE_ALL } from './summary';

export interface SourceState {
  readonly config: DataSourceConfig;
  /**
   * Last good poll, kept (and served) while the source is failing, with the hosts and
   * metrics earlier polls listed and this one did not, until their DMAX (store/lifetime).
   */
  readonly snapshot: SourceSnapshot | null;
  /** True while the most recent poll failed. */
  readonly dead: boolean;
  /** Epoch seconds of the last successful poll, 0 if never. */
  readonly lastSuccess: number;
  readonly lastError: string | null;
  readonly consecutiveFailures: number;
}

/** What the servers render: consistent for as long as the caller holds it. */
export interface TreeView {
  readonly version: number;
  readonly gridname: string;
  readonly authority: string;
  /** Top-level clusters and grids of every source that ever answered, by NAME (last poll wins). */
  readonly nodes: ReadonlyMap<string, TreeNode>;
  /** Summary of the root grid: sources that are not dead. */
  readonly rootSummary: Summary;
  readonly sources: readonly SourceState[];
}

export interface StoreUpdate {
  readonly source: SourceState;
  /** What this poll delivered, as polled (without the hosts kept while absent). */
  readonly snapshot: SourceSnapshot;
  readonly view: TreeView;
}

export type StoreListener = (update: StoreUpdate) => void;

/** A source went down (its first failed poll since it last answered) or came back. */
export interface SourceStatusChange {
  readonly source: string;
  readonly up: boolean;
  /** Why it went down; null when it came back. */
  readonly error: string | null;
}

export type SourceStatusListener = (change: SourceStatusChange) => void;

export interface StoreOptions {
  readonly gridname: string;
  readonly authority: string;
  readonly policy?: SummaryPolicy;
}

export class Store {
  private readonly states = new Map<string, SourceState>();
  private readonly listeners: StoreListener[] = [];
  private readonly statusListeners: SourceStatusListener[] = [];
  private version = 0;
  private cachedView: TreeView | null = null;
  private readonly policy: SummaryPolicy;

  constructor(private options: StoreOptions) {
    this.policy = options.policy ?? SUMMARIZE_ALL;
  }

  /**
   * Applies a new data_source list (start-up, SIGHUP): a source that keeps its name keeps its
   * state and last good data until its next poll; removed sources and their data go.
   */
  setSources(configs: readonly DataSourceConfig[]): void {
    const next = new Map<string, SourceState>();
    for (const config of configs) {
      const old = this.states.get(config.name);
      next.set(config.name, old ? { ...old, config } : {
        config, snapshot: null, dead: false, lastSuccess: 0, lastError: null, consecutiveFailures: 0,
      });
    }
    this.states.clear();
    for (const [k, v] of next) this.states.set(k, v);
    this.invalidate();
  }

  setIdentity(gridname: string, authority: string): void {
    this.options = { ...this.options, gridname, authority };
    this.invalidate();
  }

  /** A poll succeeded: swap in its snapshot whole. */
  publish(snapshot: SourceSnapshot): void {
    const old = this.states.get(snapshot.source);
    if (!old) return; // source removed while it was polling
    // Served: with the hosts and metrics it stopped listing, ageing until DMAX (as C).
    // Listeners get the snapshot as polled: nothing is written for absent hosts.
    const kept = keepAbsent(old.snapshot, snapshot, old.config.limits.maxHosts, old.config.limits.maxMetrics);
    const state: SourceState = {
      ...old, snapshot: kept, dead: false, lastSuccess: snapshot.polledAt, lastError: null, consecutiveFailures: 0,
    };
    this.states.set(snapshot.source, state);
    this.invalidate();
    if (old.dead) for (const listener of this.statusListeners) listener({ source: snapshot.source, up: true, error: null });
    const view = this.view();
    for (const listener of this.listeners) listener({ source: state, snapshot, view });
  }

  /** A poll failed: keep the last good data, mark the source dead. */
  fail(sourceName: string, error: string): void {
    const old = this.states.get(sourceName);
    if (!old) return;
    this.states.set(sourceName, {
      ...old, dead: true, lastError: error, consecutiveFailures: old.consecutiveFailures + 1,
    });
    this.invalidate();
    if (!old.dead) for (const listener of this.statusListeners) listener({ source: sourceName, up: false, error });
  }

  source(name: string): SourceState | undefined {
    return this.states.get(name);
  }

  onUpdate(listener: StoreListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Told when a source goes down or comes back (not on every failed poll). */
  onSourceStatus(listener: SourceStatusListener): void {
    this.statusListeners.push(listener);
  }

  view(): TreeView {
    if (this.cachedView) return this.cachedView;
    const nodes = new Map<string, TreeNode>();
    const live: Summary[] = [];
    const sources = [...this.states.values()];
    // Sort so that the most recent poll wins a NAME clash, as the C gmetad's overwrite does.
    const answered = sources.filter((s) => s.snapshot !== null)
      .sort((a, b) => a.snapshot!.polledAt - b.snapshot!.polledAt);
    // Nodes a source no longer lists (kept as C keeps them) yield to any source that lists the
    // name. Each name counts once in the root summary, for the source that won it, while that
    // source answers (C: one entry per name, summed when its data_source is alive).
    const owner = new Map<string, SourceState>();
    const listed = new Set<string>();
    for (const state of answered) for (const node of state.snapshot!.nodes) listed.add(node.name);
    const place = (state: SourceState, node: TreeNode): void => {
      nodes.delete(node.name);
      nodes.set(node.name, node);
      owner.set(node.name, state);
    };
    for (const state of answered) {
      for (const node of state.snapshot!.absentNodes ?? []) if (!listed.has(node.name)) place(state, node);
    }
    for (const state of answered) for (const node of state.snapshot!.nodes) place(state, node);
    for (const [name, node] of nodes) if (!owner.get(name)!.dead) live.push(node.summary);
    this.cachedView = Object.freeze({
      version: this.version,
      gridname: this.options.gridname,
      authority: this.options.authority,
      nodes,
      rootSummary: mergeSummaries(live, this.policy),
      sources,
    });
    return this.cachedView;
  }

  private invalidate(): void {
    this.version += 1;
    this.cachedView = null;
  }
}
