/**
 * Commands that open the Transfer Learning Studio: in a new notebook, or as
 * a Voilà app (`/voila/render/tl_widgets_studio.ipynb`).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Contents, ServerConnection } from '@jupyterlab/services';

/** The code of the Studio notebook's only cell. */
export const STUDIO_SOURCE = 'from tl_widgets import Studio\nStudio()';
/** The notebook Voilà renders, created in the server root when missing. */
export const VOILA_NOTEBOOK = 'tl_widgets_studio.ipynb';

function kernelSpec(app: JupyterFrontEnd): { name: string; display_name: string; language: string } {
  const specs = app.serviceManager.kernelspecs.specs;
  const name = specs?.default || 'python3';
  const spec = specs?.kernelspecs[name];
  return { name, display_name: spec?.display_name ?? 'Python 3', language: spec?.language ?? 'python' };
}

/** A one-cell notebook that shows the Studio. */
export function studioNotebook(app: JupyterFrontEnd): Record<string, unknown> {
  return {
    cells: [
      {
        cell_type: 'code',
        execution_count: null,
        id: 'tl-widgets-studio',
        metadata: {},
        outputs: [],
        source: STUDIO_SOURCE
      }
    ],
    metadata: { kernelspec: kernelSpec(app), language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5
  };
}

/**
 * Creates `Untitled*.ipynb` in `cwd` with the Studio cell, opens it and runs it.
 *
 * @returns The notebook panel (the launcher puts it in its own place).
 */
export async function openStudioNotebook(app: JupyterFrontEnd, cwd: string): Promise<NotebookPanel> {
  const contents = app.serviceManager.contents;
  const model = await contents.newUntitled({ path: cwd, type: 'notebook' });
  await contents.save(model.path, { type: 'notebook', format: 'json', content: studioNotebook(app) });
  const panel = (await app.commands.execute('docmanager:open', {
    path: model.path,
    factory: 'Notebook',
    kernel: { name: kernelSpec(app).name }
  })) as NotebookPanel;
  void runAllWhenReady(panel);
  return panel;
}

async function runAllWhenReady(panel: NotebookPanel): Promise<void> {
  try {
    await panel.context.ready;
    await panel.sessionContext.ready;
    await NotebookActions.runAll(panel.content, panel.sessionContext);
  } catch (error) {
    await showErrorMessage('Could not start the Transfer Learning Studio', error as Error);
  }
}

/** Creates the Voilà notebook in the server root unless it exists. */
export async function ensureVoilaNotebook(app: JupyterFrontEnd): Promise<string> {
  const contents = app.serviceManager.contents;
  try {
    await contents.get(VOILA_NOTEBOOK, { content: false });
  } catch (error) {
    if (!(error instanceof ServerConnection.ResponseError) || error.response.status !== 404) {
      throw error;
    }
    const options: Partial<Contents.IModel> = { type: 'notebook', format: 'json', content: studioNotebook(app) };
    await contents.save(VOILA_NOTEBOOK, options);
  }
  return VOILA_NOTEBOOK;
}

/**
 * Opens the Studio as a Voilà app in a new browser tab.
 *
 * The tab is opened before any request so that popup blockers, which only
 * allow windows opened directly by a click, let it through.
 */
export async function openStudioInVoila(app: JupyterFrontEnd): Promise<void> {
  const win = window.open('', '_blank');
  try {
    const path = await ensureVoilaNotebook(app);
    const url = URLExt.join(PageConfig.getBaseUrl(), 'voila/render', URLExt.encodeParts(path));
    if (win) {
      win.location.href = url;
    } else {
      await showErrorMessage('Open Studio in Voilà', `Your browser blocked the new tab. Open ${url} instead.`);
    }
  } catch (error) {
    win?.close();
    await showErrorMessage('Could not open the Studio in Voilà', error as Error);
  }
}
