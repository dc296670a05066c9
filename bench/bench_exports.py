"""Every export format side by side: size, agreement with Keras, and latency per image, plus calibration.

    python bench/bench_exports.py            # the demo model at 48 px, 3 epochs
    python bench/bench_exports.py --quick    # 1 epoch, 32 px

Trains the embedded demo (offline), then for each format exports it (verified against Keras on the
validation split) and runs the deployment preview on the validation images: Keras and the export on the
same images, latency per image of each (batched, after a warm-up; onnx-web is timed inside Chromium by
onnxruntime-web's wasm backend). Prints a Markdown table and one JSON line. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig
    from tl_widgets.core.export.formats import FORMATS, export_run
    from tl_widgets.core.export.preview import preview_export
    from tl_widgets.core.training.session import train

    size, epochs = (32, 1) if args.quick else (48, 3)
    with tempfile.TemporaryDirectory(prefix="tlw-bench-exports-") as out:
        cfg = TrainConfig(data=DataConfig(source="demo", demo="digits", batch_size=32),
                          model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=size),
                          phases=[PhaseConfig(name="head", epochs=epochs, learning_rate=3e-3)],
                          output_dir=out, seed=0)
        result = train(cfg)
        if result.status != "finished":
            print(f"training {result.status}: {result.error}", file=sys.stderr)
            return 1
        cal = result.summary.get("calibration") or {}
        rows, out_json = [], {}
        for fmt in FORMATS:
            report = export_run(result.run_dir, fmt, record=False)
            p = preview_export(result.run_dir, fmt, limit=256)
            v = report.verification
            rows.append(f"| {fmt} | {report.file_size / 1e3:.0f} KB | {v['top1_agreement']:.1%} | "
                        f"{v['max_abs_diff']:.2g} | {v['accuracy_drop']:+.2%} | {p.keras_ms_per_image:.3f} | "
                        f"{p.export_ms_per_image:.3f} | {p.export_ms_per_image / p.keras_ms_per_image:.2f}x | "
                        f"{p.runtime} |")
            out_json[fmt] = {"bytes": report.file_size, "agreement": v["top1_agreement"],
                             "max_abs_diff": v["max_abs_diff"], "keras_ms": p.keras_ms_per_image,
                             "export_ms": p.export_ms_per_image, "ok": report.ok}
        n = v["count"]
    print(f"# demo_cnn @ {size} px, {epochs} epochs, {n} validation images; {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"calibration: temperature {cal.get('temperature', float('nan')):.3f}, ECE "
          f"{cal.get('ece_before', float('nan')):.4f} -> {cal.get('ece_after', float('nan')):.4f}")
    print("| format | size | top-1 agreement | max prob. diff | accuracy drop | Keras ms/img | export ms/img | "
          "export/Keras | runtime |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps({"calibration": {k: cal.get(k) for k in ("temperature", "ece_before", "ece_after")},
                      "formats": out_json}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
