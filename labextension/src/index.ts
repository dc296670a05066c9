/**
 * tl_widgets for JupyterLab.
 *
 * - `tl-widgets:studio`: Launcher card and palette commands "Transfer Learning
 *   Studio" (a new notebook running `Studio()`) and "Open Studio in Voilà".
 * - `tl-widgets:runs`: the "Training runs" sidebar fed by the server
 *   extension's REST API, run summaries in the main area, and the
 *   "N training" status-bar item.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { IStatusBar } from '@jupyterlab/statusbar';

import { tlIcon } from './icon';
import { RunsModel } from './model';
import { RunsSidebar, SIDEBAR_ID } from './sidebar';
import { TrainingStatus } from './status';
import { openStudioInVoila, openStudioNotebook } from './studio';
import { RunSummaryView } from './summary';

export namespace CommandIDs {
  export const openStudio = 'tl-widgets:open-studio';
  export const openStudioVoila = 'tl-widgets:open-studio-voila';
  export const showRuns = 'tl-widgets:show-runs';
  export const openRun = 'tl-widgets:open-run';
  export const refreshRuns = 'tl-widgets:refresh-runs';
}

const PALETTE_CATEGORY = 'Transfer Learning';
const LAUNCHER_CATEGORY = 'Transfer Learning';

const studioPlugin: JupyterFrontEndPlugin<void> = {
  id: 'tl-widgets:studio',
  description: 'Opens the Transfer Learning Studio in a notebook or in Voilà.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null, palette: ICommandPalette | null) => {
    app.commands.addCommand(CommandIDs.openStudio, {
      label: 'Transfer Learning Studio',
      caption: 'A new notebook showing the Transfer Learning Studio',
      icon: args => (args.isPalette ? undefined : tlIcon),
      execute: args => openStudioNotebook(app, typeof args.cwd === 'string' ? args.cwd : '')
    });
    app.commands.addCommand(CommandIDs.openStudioVoila, {
      label: 'Open Studio in Voilà',
      caption: 'The Transfer Learning Studio as an app, without code, in a new tab',
      icon: args => (args.isPalette ? undefined : tlIcon),
      execute: () => openStudioInVoila(app)
    });
    launcher?.add({ command: CommandIDs.openStudio, category: LAUNCHER_CATEGORY, rank: 1 });
    launcher?.add({ command: CommandIDs.openStudioVoila, category: LAUNCHER_CATEGORY, rank: 2 });
    palette?.addItem({ command: CommandIDs.openStudio, category: PALETTE_CATEGORY });
    palette?.addItem({ command: CommandIDs.openStudioVoila, category: PALETTE_CATEGORY });
  }
};

const runsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'tl-widgets:runs',
  description: 'The Training runs sidebar, run summaries and the status-bar item.',
  autoStart: true,
  optional: [ILayoutRestorer, IStatusBar, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
  ) => {
    const settings = app.serviceManager.serverSettings;
    const model = new RunsModel(settings);
    const tracker = new WidgetTracker<MainAreaWidget<RunSummaryView>>({ namespace: 'tl-widgets-run' });

    app.commands.addCommand(CommandIDs.openRun, {
      label: args => `Training run ${String(args.runId ?? '')}`,
      execute: async args => {
        const runId = String(args.runId ?? '');
        if (!runId) {
          throw new Error(`Expected a runId argument. Received: ${JSON.stringify(args)}`);
        }
        const existing = tracker.find(w => w.content.runId === runId);
        if (existing) {
          app.shell.activateById(existing.id);
          void existing.content.refresh();
          return existing;
        }
        const widget = new MainAreaWidget({ content: new RunSummaryView(settings, runId) });
        widget.id = `tl-widgets-run-${runId}`;
        widget.title.label = `Run: ${runId}`;
        widget.title.icon = tlIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        await tracker.add(widget);
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    app.commands.addCommand(CommandIDs.showRuns, {
      label: 'Training runs',
      caption: 'Show the Training runs sidebar',
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
    app.commands.addCommand(CommandIDs.refreshRuns, {
      label: 'Refresh training runs',
      execute: () => model.refresh()
    });

    const sidebar = new RunsSidebar(model, runId => void app.commands.execute(CommandIDs.openRun, { runId }));
    sidebar.title.icon = tlIcon;
    app.shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
      void restorer.restore(tracker, {
        command: CommandIDs.openRun,
        args: w => ({ runId: w.content.runId }),
        name: w => w.content.runId
      });
    }
    statusBar?.registerStatusItem('tl-widgets:status', {
      item: new TrainingStatus(model, () => app.shell.activateById(SIDEBAR_ID)),
      align: 'left',
      rank: 5,
      isActive: () => model.activeCount > 0,
      activeStateChanged: model.changed
    });
    palette?.addItem({ command: CommandIDs.showRuns, category: PALETTE_CATEGORY });
    palette?.addItem({ command: CommandIDs.refreshRuns, category: PALETTE_CATEGORY });
    model.start();
  }
};

export default [studioPlugin, runsPlugin];
