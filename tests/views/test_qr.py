"""The QR code figure (views/figures/qr.py): inline SVG of the link, the link as text under it, bad input refused."""

from __future__ import annotations

import pytest

from tl_widgets.views.figures.qr import qr_html, qr_svg


def test_a_link_becomes_an_inline_svg_with_the_link_under_it():
    url = "https://192.168.1.20:8866/tl-widgets-phone/" + "A" * 43
    svg = qr_svg(url)
    assert svg.startswith("<svg ") and 'shape-rendering="crispEdges"' in svg and "<?xml" not in svg
    page = qr_html(url, "Photos go into 'cups' <b>")
    assert url in page and "&#x27;cups&#x27; &lt;b&gt;" in page  # the caption is escaped
    assert qr_svg(url) == svg and qr_svg(url + "x") != svg


@pytest.mark.parametrize("text, message", [("", "Expected a text"), ("x" * 8000, "short enough")])
def test_what_cannot_be_a_qr_code_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        qr_svg(text)
