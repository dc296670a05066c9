/**
 * The "Training runs" left sidebar: one row per run with live status,
 * progress and best metric. Clicking a row opens the run's summary.
 */
import { Widget } from '@lumino/widgets';

import { IRunSummary } from './api';
import { el, formatBest, formatProgress } from './format';
import { RunsModel } from './model';

export const SIDEBAR_ID = 'tl-widgets-runs';

export class RunsSidebar extends Widget {
  /**
   * @param model - The shared runs model.
   * @param openRun - Called with a run id when a row is clicked.
   */
  constructor(
    private readonly _model: RunsModel,
    private readonly _openRun: (runId: string) => void
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('tlw-runs-sidebar');
    this.title.caption = 'Training runs';

    const header = el('div', 'tlw-runs-header');
    header.appendChild(el('h2', 'tlw-runs-title', 'Training runs'));
    const refresh = el('button', 'jp-Button jp-mod-minimal tlw-runs-refresh', '⟳');
    refresh.title = 'Refresh now';
    refresh.addEventListener('click', () => void this._model.refresh());
    header.appendChild(refresh);
    this._message = el('div', 'tlw-runs-message');
    this._list = el('ul', 'tlw-runs-list');
    this.node.append(header, this._message, this._list);
    this._model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const runs = this._model.runs;
    if (this._model.error) {
      this._message.textContent = `Could not load runs: ${this._model.error}`;
      this._message.classList.add('tlw-mod-error');
    } else {
      this._message.classList.remove('tlw-mod-error');
      this._message.textContent = !this._model.loaded
        ? 'Loading…'
        : runs.length === 0
          ? 'No training runs yet. Start one from the Transfer Learning Studio.'
          : '';
    }
    // Rebuild rows in place, reusing nodes by run id so clicks and focus survive a refresh.
    const old = new Map<string, HTMLLIElement>();
    for (const child of Array.from(this._list.children)) {
      const item = child as HTMLLIElement;
      old.set(item.dataset.runId ?? '', item);
    }
    const rows = runs.map(run => {
      const row = old.get(run.run_id) ?? this._createRow(run.run_id);
      old.delete(run.run_id);
      this._fillRow(row, run);
      return row;
    });
    old.forEach(row => row.remove());
    rows.forEach((row, i) => {
      if (this._list.children[i] !== row) {
        this._list.insertBefore(row, this._list.children[i] ?? null);
      }
    });
  }

  private _createRow(runId: string): HTMLLIElement {
    const row = el('li', 'tlw-run-item');
    row.dataset.runId = runId;
    row.tabIndex = 0;
    row.addEventListener('click', () => this._openRun(runId));
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this._openRun(runId);
      }
    });
    const top = el('div', 'tlw-run-top');
    top.append(el('span', 'tlw-run-name'), el('span', 'tlw-run-status'));
    const bar = el('div', 'tlw-run-bar');
    bar.appendChild(el('div', 'tlw-run-bar-fill'));
    const bottom = el('div', 'tlw-run-bottom');
    bottom.append(el('span', 'tlw-run-progress'), el('span', 'tlw-run-best'));
    row.append(top, bar, bottom);
    return row;
  }

  private _fillRow(row: HTMLLIElement, run: IRunSummary): void {
    const q = (cls: string) => row.querySelector(`.${cls}`) as HTMLElement;
    q('tlw-run-name').textContent = run.name;
    row.title = `${run.run_id}\n${run.source} on ${run.host}`;
    const status = q('tlw-run-status');
    status.textContent = run.status;
    status.className = `tlw-run-status tlw-status-${run.status}`;
    row.dataset.status = run.status;
    q('tlw-run-bar-fill').style.width = `${Math.round(run.progress * 100)}%`;
    q('tlw-run-progress').textContent = formatProgress(run);
    q('tlw-run-best').textContent = run.error ?? formatBest(run);
  }

  private _message: HTMLDivElement;
  private _list: HTMLUListElement;
}
