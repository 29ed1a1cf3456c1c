"""Keyset paging for lists: a stack of cursors per list, started afresh when its filters change,
and the Previous / Page N / Next controls under the list."""

from __future__ import annotations

import streamlit as st


def cursors(key: str, signature: object) -> list:
    """The list's cursor stack ([None] = the first page); reset when `signature` (its filters) changes."""
    if st.session_state.get(f"{key}_signature") != repr(signature):
        st.session_state[f"{key}_signature"] = repr(signature)
        st.session_state[f"{key}_pages"] = [None]
    return st.session_state[f"{key}_pages"]


def pager(key: str, stack: list, next_after: object, caption: str | None = None) -> None:
    """Previous / "Page N" / Next; a click moves along the stack and reruns."""
    prev_col, page_col, next_col = st.columns([1, 3, 1])
    if prev_col.button("Previous", icon=":material/chevron_left:", disabled=len(stack) == 1, key=f"{key}_prev"):
        stack.pop()
        st.rerun()
    page_col.caption(caption or f"Page {len(stack)}")
    if next_col.button("Next", icon=":material/chevron_right:", disabled=next_after is None, key=f"{key}_next"):
        stack.append(next_after)
        st.rerun()
