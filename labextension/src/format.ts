/**
 * Small formatting helpers shared by the sidebar and the run summary.
 */
import { IRunSummary } from './api';

/** A metric value with 4 significant digits, or a dash. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** `epoch 3/10` plus the step while an epoch is under way. */
export function formatProgress(run: IRunSummary): string {
  if (!run.total_epochs) {
    return '';
  }
  let text = `epoch ${run.epoch}/${run.total_epochs}`;
  if (run.status === 'running' && run.steps_per_epoch && run.step) {
    text += ` · step ${run.step}/${run.steps_per_epoch}`;
  }
  return text;
}

/** `val_accuracy 0.9412`, or an empty string without a best metric. */
export function formatBest(run: IRunSummary): string {
  if (run.best_metric === null || !run.best_metric_name) {
    return '';
  }
  return `${run.best_metric_name} ${formatNumber(run.best_metric)}`;
}

/** A local date and time for a Unix timestamp in seconds. */
export function formatTime(seconds: number | null): string {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '–';
}

/** Creates an element with classes and optional text (text is never parsed as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
