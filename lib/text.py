"""Showing user-entered text safely in Streamlit's markdown (plain Python, so lib/ messages use it too)."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """`text` with every markdown/HTML-significant character escaped, for st.markdown & co."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text if text is not None else ""))
