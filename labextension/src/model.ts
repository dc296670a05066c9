/**
 * The shared list of runs: polls the REST API and tells its views.
 *
 * One model feeds both the sidebar and the status-bar item. It polls every
 * ~2 s while a run is active and every ~10 s otherwise (and when the tab is
 * hidden), so an idle Lab costs almost nothing.
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IRunSummary, listRuns } from './api';

/** Poll interval while at least one run is active (ms). */
export const ACTIVE_INTERVAL = 2000;
/** Poll interval when nothing is training (ms). */
export const IDLE_INTERVAL = 10000;

export class RunsModel implements IDisposable {
  constructor(private readonly _settings: ServerConnection.ISettings) {}

  /** Runs from the last successful poll, newest first. */
  get runs(): readonly IRunSummary[] {
    return this._runs;
  }

  /** The last poll's error message, or null when it worked. */
  get error(): string | null {
    return this._error;
  }

  /** How many runs are training now. */
  get activeCount(): number {
    return this._runs.filter(r => r.status === 'running').length;
  }

  /** True after the first poll answered (or failed). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Emitted after every poll. */
  get changed(): ISignal<RunsModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Starts polling (idempotent). */
  start(): void {
    if (this._timer === null && !this._disposed) {
      void this.refresh();
    }
  }

  /** Polls now, then schedules the next poll. */
  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    this._clearTimer();
    try {
      this._runs = await listRuns(this._settings);
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message || String(error);
    }
    this._loaded = true;
    if (this._disposed) {
      return;
    }
    this._changed.emit();
    const active = this.activeCount > 0 && !document.hidden;
    this._clearTimer();
    this._timer = window.setTimeout(
      () => void this.refresh(),
      active ? ACTIVE_INTERVAL : IDLE_INTERVAL
    );
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _runs: IRunSummary[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _disposed = false;
  private _timer: number | null = null;
  private _changed = new Signal<RunsModel, void>(this);
}
