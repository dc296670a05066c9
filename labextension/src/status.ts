/**
 * The status-bar item: "N training" while runs are active; hidden otherwise.
 */
import { Widget } from '@lumino/widgets';

import { RunsModel } from './model';

export class TrainingStatus extends Widget {
  constructor(
    private readonly _model: RunsModel,
    onClick: () => void
  ) {
    super();
    this.addClass('tlw-status-item');
    this.node.title = 'Training runs (click to show)';
    this.node.addEventListener('click', onClick);
    this._model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    this.node.textContent = `${this._model.activeCount} training`;
  }
}
