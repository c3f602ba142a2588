"""QR codes drawn by the app itself (segno), never fetched from a service: check-in codes and sign-up posters."""

from __future__ import annotations

import segno


def qr_svg(url: str, *, scale: int = 10) -> str:
    """The code as an inline SVG (no style attributes, so the CSP holds); CSS sizes it through its viewBox."""
    return segno.make(url, error="m").svg_inline(scale=scale, border=2, omitsize=True, svgclass="qr-svg",
                                                 lineclass=None)
