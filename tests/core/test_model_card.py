"""MODEL_CARD.md: every section, and its numbers are the run folder's own (summary.json, eval_report.json)."""

from __future__ import annotations

import json
import re

import pytest

from tl_widgets.core.export.model_card import SECTIONS, config_hash, write_model_card


def test_card_has_every_section_and_matches_the_run(trained_demo_run, capsys):
    from PIL import Image

    from tl_widgets.cli import main
    from tl_widgets.core.export.formats import export_run

    if not (trained_demo_run / "exports" / "tflite" / "export_report.json").is_file():
        export_run(trained_demo_run, "tflite")
    assert main(["card", str(trained_demo_run)]) == 0
    assert "MODEL_CARD.md" in capsys.readouterr().out
    text = (trained_demo_run / "MODEL_CARD.md").read_text()
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings == list(SECTIONS)
    summary = json.loads((trained_demo_run / "summary.json").read_text())
    config = json.loads((trained_demo_run / "config.json").read_text())
    evaluation = json.loads((trained_demo_run / "eval_report.json").read_text())
    for name, value in summary["metrics"].items():  # every final metric, as summary.json has it
        assert f"| {name} | {value:.4f} |" in text
    for name, count in summary["class_counts"].items():
        assert f"| {name} | {count} |" in text
    for row in evaluation["per_class"]:
        assert f"| {row['class']} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} |" in text
    cal = summary["calibration"]
    assert f"{cal['temperature']:.3f}" in text and f"| before | {cal['ece_before']:.4f} |" in text
    after = "after" if cal["applied"] else "with the temperature (not applied)"
    assert f"| {after} | {cal['ece_after']:.4f} |" in text
    assert config_hash(config) in text and f"`{config['model']['backbone']}`" in text
    export = json.loads((trained_demo_run / "exports" / "tflite" / "export_report.json").read_text())
    assert f"| tflite | {export['file_size'] / 1e6:.2f} | {export['verification']['top1_agreement']:.4f} |" in text
    assert "tl-widgets train " in text and "config.json" in text
    image = trained_demo_run / "model_card_confusion.png"
    assert "](model_card_confusion.png)" in text
    with Image.open(image) as img:
        assert img.format == "PNG" and img.width > 100


def test_card_refuses_what_is_not_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected a run folder with summary.json"):
        write_model_card(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"status": "failed"}))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="Expected a finished run. Received: status 'failed'"):
        write_model_card(tmp_path)


def test_class_names_and_paths_from_users_are_escaped(tmp_path):
    """#25 L11: a class named <img src=x onerror=...> went into MODEL_CARD.md verbatim; backticks broke code spans."""
    from markdown_it import MarkdownIt

    from tl_widgets.core.export.model_card import render_model_card

    evil, tick = "<img src=x onerror=alert(1)>", "a`b"
    path = "/data/``x``/photos"
    summary = {"status": "finished", "class_names": [evil, tick], "class_counts": {evil: 3, tick: 4},
               "skipped_files": [{"path": f"{path}/{evil}.jpg", "reason": "EPS format"}], "metrics": {}}
    config = {"data": {"source": "folder", "path": path}, "model": {"backbone": "demo_cnn"}, "seed": 1}
    evaluation = {"count": 2, "accuracy": 0.5, "macro_f1": 0.5, "class_names": [evil, tick],
                  "per_class": [{"class": evil, "precision": 1, "recall": 1, "f1": 1, "support": 1}]}
    text = render_model_card(tmp_path / "run-1", summary, config, evaluation, [], "confusion.png")
    page = MarkdownIt("commonmark").render(text)  # raw HTML allowed, as notebooks and many viewers render it
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<code>/data/``x``/photos</code>" in page  # the whole path in one code span
    assert "<code>/data/``x``/photos/&lt;img src=x onerror=alert(1)&gt;.jpg</code>" in page
