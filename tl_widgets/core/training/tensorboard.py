"""TensorBoard logging for a run, and starting TensorBoard on run folders.

A run with ``TrainConfig.tensorboard`` on gets Keras' own
``keras.callbacks.TensorBoard`` writing to the run folder's ``tensorboard/``:
``batch_*`` scalars every batch, ``epoch_*`` scalars (training and
validation) every epoch, the learning rate at both, and the model's graph.
One callback serves every phase so the batch axis runs on across phases.
:func:`launch` starts TensorBoard (its own ``program`` API) on chosen runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["tensorboard_callback", "launch", "log_dirs_for", "TensorBoardMissingError"]


class TensorBoardMissingError(RuntimeError):
    """The ``tensorboard`` package is not installed."""


def tensorboard_callback(log_dir: str | Path) -> Any:
    """Keras' TensorBoard callback for one run, keeping one batch axis over all phases.

    Args:
        log_dir: The run folder's TensorBoard folder (see ``RunFolder.tensorboard_dir``).

    Returns:
        A ``keras.callbacks.TensorBoard`` (subclass) to pass to every ``fit`` of the run.
    """
    import keras

    class RunTensorBoard(keras.callbacks.TensorBoard):  # type: ignore[misc]
        """Keras' callback; the batch step continues over fits and each batch also logs the learning rate."""

        def on_train_begin(self, logs: Any = None) -> None:
            step = self._global_train_batch
            super().on_train_begin(logs)
            self._global_train_batch = step

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            logs = dict(logs or {})
            rate = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
            if rate is not None:
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
            super().on_train_batch_end(batch, logs)

    return RunTensorBoard(log_dir=str(log_dir), update_freq="batch", write_graph=True)


def log_dirs_for(runs: list[str], home: str | Path | None = None) -> dict[str, Path]:
    """Run name -> TensorBoard folder, for run ids in the store or run-folder paths.

    Args:
        runs: Run ids (see ``tl-widgets runs list``) or run-folder paths; empty:
            every recorded run that logged to TensorBoard.
        home: The run store's folder (None: the default home).

    Raises:
        ValueError: A run is neither a recorded id nor a folder, or has no TensorBoard logs.
    """
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.core.runs.store import RunNotFoundError, RunStore

    store = RunStore(home)
    out: dict[str, Path] = {}
    if not runs:
        for run in store.list_runs(limit=10_000):
            if run["run_dir"] and RunFolder(Path(run["run_dir"])).tensorboard_dir.is_dir():
                out[run["run_id"]] = RunFolder(Path(run["run_dir"])).tensorboard_dir
        if not out:
            raise ValueError("Expected recorded runs trained with TensorBoard logging (--tensorboard). Received: none")
        return out
    for ref in runs:
        folder_path = Path(ref)
        if not folder_path.is_dir():
            try:
                run_dir = store.get_run(ref)["run_dir"]
            except RunNotFoundError:
                raise ValueError(f"Expected a run id or a run folder. Received: {ref!r} (neither)") from None
            folder_path = Path(run_dir) if run_dir else folder_path
        logs = RunFolder(folder_path).tensorboard_dir
        if not logs.is_dir():
            raise ValueError(f"Expected a run trained with TensorBoard logging. Received: {ref!r} "
                             f"(no {logs.name}/ folder in {str(folder_path)!r})")
        out[folder_path.name.replace(":", "_").replace(",", "_")] = logs
    return out


def launch(log_dirs: dict[str, Path], host: str = "127.0.0.1", port: int = 6006) -> tuple[str, Any]:
    """Starts TensorBoard in this process (background threads) on named log folders.

    Args:
        log_dirs: Name shown in TensorBoard -> a run's TensorBoard folder.
        host: Address to listen on.
        port: Port (0: any free port).

    Returns:
        ``(url, program)``: the address to open, and the running ``TensorBoard`` program.

    Raises:
        TensorBoardMissingError: ``tensorboard`` is not installed.
        ValueError: No folders, or a name with ``:`` or ``,`` (TensorBoard's separators).
    """
    try:
        from tensorboard import program
    except ImportError:
        raise TensorBoardMissingError("Expected the tensorboard package. Received: not installed "
                                      "(pip install tensorboard)") from None
    if not log_dirs:
        raise ValueError("Expected at least one run with TensorBoard logs. Received: none")
    for name in log_dirs:
        if not name or any(c in name for c in ":,"):
            raise ValueError(f"Expected run names without ':' or ','. Received: {name!r}")
    spec = ",".join(f"{name}:{Path(path).resolve()}" for name, path in log_dirs.items())
    tb = program.TensorBoard()
    tb.configure(argv=[None, "--logdir_spec", spec, "--host", host, "--port", str(port), "--reload_interval", "5"])
    url = tb.launch()
    return url, tb
