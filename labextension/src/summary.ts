/**
 * The summary of one run, opened in the main area from the sidebar:
 * status, progress, final metrics, the per-epoch table and the config.
 * It refreshes itself every ~2 s while the run is training.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { getRun, IRunDetail } from './api';
import { el, formatBest, formatNumber, formatProgress, formatTime } from './format';
import { ACTIVE_INTERVAL } from './model';

export class RunSummaryView extends Widget {
  constructor(
    private readonly _settings: ServerConnection.ISettings,
    readonly runId: string
  ) {
    super();
    this.addClass('tlw-run-summary');
    this.node.tabIndex = 0;
    void this.refresh();
  }

  /** Fetches the run again and redraws. */
  async refresh(): Promise<void> {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
    try {
      const run = await getRun(this._settings, this.runId);
      if (this.isDisposed) {
        return;
      }
      this._render(run);
      if (run.status === 'running') {
        this._timer = window.setTimeout(() => void this.refresh(), ACTIVE_INTERVAL);
      }
    } catch (error) {
      if (!this.isDisposed) {
        this.node.replaceChildren(
          el('p', 'tlw-summary-error', `Could not load run ${this.runId}: ${(error as Error).message}`)
        );
      }
    }
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    super.dispose();
  }

  private _render(run: IRunDetail): void {
    this.title.label = `Run: ${run.name}`;
    const head = el('div', 'tlw-summary-head');
    head.append(el('h1', 'tlw-summary-name', run.name), el('span', `tlw-run-status tlw-status-${run.status}`, run.status));

    const facts: [string, string][] = [
      ['Run id', run.run_id],
      ['Progress', formatProgress(run) || '–'],
      ['Best', formatBest(run) || '–'],
      ['Started', formatTime(run.start_time)],
      ['Ended', formatTime(run.end_time)],
      ['Source', `${run.source} on ${run.host} (pid ${run.pid})`],
      ['Folder', run.run_dir ?? '–']
    ];
    if (run.error) {
      facts.push(['Error', run.error]);
    }
    const factList = el('dl', 'tlw-summary-facts');
    for (const [key, value] of facts) {
      factList.append(el('dt', '', key), el('dd', '', value));
    }

    const parts: HTMLElement[] = [head, factList];
    const finals = Object.entries(run.final_metrics);
    if (finals.length) {
      parts.push(el('h2', '', 'Final metrics'), table(['metric', 'value'], finals.map(([k, v]) => [k, formatNumber(v)])));
    }
    if (run.epochs.length) {
      const names = Array.from(new Set(run.epochs.flatMap(e => Object.keys(e.metrics)))).sort();
      parts.push(
        el('h2', '', 'Epochs'),
        table(
          ['epoch', ...names, 'seconds'],
          run.epochs.map(e => [
            String(e.epoch + 1),
            ...names.map(n => formatNumber(e.metrics[n])),
            formatNumber(e.duration)
          ]),
          'tlw-summary-epochs'
        )
      );
    }
    if (run.artifacts.length) {
      parts.push(el('h2', '', 'Artifacts'), table(['kind', 'path'], run.artifacts.map(a => [a.kind, a.path])));
    }
    parts.push(el('h2', '', 'Config'), el('pre', 'tlw-summary-config', JSON.stringify(run.config, null, 2)));
    if (run.traceback) {
      parts.push(el('h2', '', 'Traceback'), el('pre', 'tlw-summary-traceback', run.traceback));
    }
    this.node.replaceChildren(...parts);
  }

  private _timer: number | null = null;
}

function table(header: string[], rows: string[][], className = ''): HTMLTableElement {
  const t = el('table', `tlw-summary-table ${className}`.trim());
  const thead = el('thead');
  const tr = el('tr');
  header.forEach(h => tr.appendChild(el('th', '', h)));
  thead.appendChild(tr);
  const tbody = el('tbody');
  for (const row of rows) {
    const r = el('tr');
    row.forEach(cell => r.appendChild(el('td', '', cell)));
    tbody.appendChild(r);
  }
  t.append(thead, tbody);
  return t;
}
