"""User-entered text made safe: for Streamlit's markdown (plain Python, so lib/ messages use it
too), and as a search term inside a SQL LIKE pattern."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """`text` with every markdown/HTML-significant character escaped, for st.markdown & co."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text if text is not None else ""))


def contains_pattern(search: str) -> str:
    """A LIKE/ILIKE pattern matching text that contains `search` literally (its %, _ and \\ escaped)."""
    return "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
