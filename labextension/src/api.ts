/**
 * Typed client of the tl_widgets REST API (`<base>/tl-widgets/api/`).
 *
 * Requests go through `ServerConnection.makeRequest`, so Jupyter's token,
 * cookie and XSRF handling apply exactly as for Lab's own calls.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Run statuses recorded by the store. */
export type RunStatus =
  | 'running'
  | 'finished'
  | 'stopped'
  | 'failed'
  | 'interrupted';

/** One run as listed by `GET runs`. */
export interface IRunSummary {
  run_id: string;
  name: string;
  source: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  run_dir: string | null;
  host: string;
  pid: number;
  heartbeat: number;
  phase: number | null;
  phase_name: string | null;
  epoch: number;
  total_epochs: number;
  step: number;
  steps_per_epoch: number | null;
  global_step: number;
  progress: number;
  best_metric_name: string | null;
  best_metric: number | null;
  final_metrics: Record<string, number | null>;
  error: string | null;
}

/** Metrics of one epoch. */
export interface IEpochRecord {
  epoch: number;
  phase: number;
  metrics: Record<string, number | null>;
  duration: number | null;
  learning_rate: number | null;
  time: number;
}

/** One run with everything `GET runs/<id>` returns. */
export interface IRunDetail extends IRunSummary {
  config: Record<string, unknown>;
  traceback: string | null;
  epochs: IEpochRecord[];
  batches: {
    global_step: number;
    epoch: number;
    step: number;
    metrics: Record<string, number | null>;
  }[];
  artifacts: { kind: string; path: string; time: number }[];
}

/** An API call that did not succeed; `message` is the server's explanation. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/**
 * Calls the tl_widgets REST API.
 *
 * @param settings - The server connection settings (the app's service manager's).
 * @param path - Path below `tl-widgets/api/`, e.g. `runs`.
 * @param init - Fetch options (method...).
 * @returns The parsed JSON body, or null for an empty reply (204).
 */
export async function requestAPI<T>(
  settings: ServerConnection.ISettings,
  path: string,
  init: RequestInit = {}
): Promise<T | null> {
  const url = URLExt.join(settings.baseUrl, 'tl-widgets/api', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(
        response.status,
        `Expected JSON from ${url}. Received: ${text.slice(0, 200)}`
      );
    }
  }
  if (!response.ok) {
    const message =
      (data as { message?: string } | null)?.message ?? response.statusText;
    throw new ApiError(response.status, message);
  }
  return data as T | null;
}

/** Lists runs, newest first. */
export async function listRuns(
  settings: ServerConnection.ISettings
): Promise<IRunSummary[]> {
  const data = await requestAPI<{ runs: IRunSummary[] }>(settings, 'runs');
  return data?.runs ?? [];
}

/** Fetches one run with its metrics. */
export async function getRun(
  settings: ServerConnection.ISettings,
  runId: string
): Promise<IRunDetail> {
  const data = await requestAPI<IRunDetail>(
    settings,
    `runs/${encodeURIComponent(runId)}`
  );
  if (data === null) {
    throw new ApiError(500, `Expected a run for ${runId}. Received: nothing`);
  }
  return data;
}
