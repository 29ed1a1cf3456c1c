"""Form helpers: errors shown beside their field, and one way to run a write and report it."""

from __future__ import annotations

from typing import Callable, TypeVar

import streamlit as st

from lib.errors import ConflictError, FormErrors, UserError

T = TypeVar("T")


class FieldSlots:
    """Placeholders right under each field, filled with that field's error after a submit."""

    def __init__(self) -> None:
        self.slots: dict[str, object] = {}

    def under(self, field: str) -> None:
        self.slots[field] = st.empty()

    def show(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            slot = self.slots.get(field)
            (slot if slot is not None else st).error(message, icon=":material/error:")


def attempt(action: Callable[[], T], slots: FieldSlots | None = None) -> T | None:
    """Run `action`; show a user-fixable failure beside the fields or above them, return None."""
    try:
        return action()
    except FormErrors as exc:
        if slots:
            slots.show(exc.errors)
        else:
            st.error(str(exc))
    except ConflictError as exc:
        st.warning(str(exc), icon=":material/sync_problem:")
    except UserError as exc:
        st.error(str(exc))
    return None


def conflict_choice(what: str, prefix: str, rows: list[dict], theirs_version: int, take_theirs: Callable[[], None]) -> None:
    """After a save lost to a newer one: the differing fields side by side, then "Keep mine" (the
    next Save goes over the newer version on purpose) or "Take theirs" (the form is reset)."""
    st.warning(f"Someone else saved this {what} while you were editing. Compare and choose:",
               icon=":material/sync_problem:")
    st.dataframe(rows, hide_index=True, key=f"{prefix}_conflict_table")
    keep, take = st.columns(2)
    if keep.button("Keep mine", type="primary", key=f"{prefix}_keep_mine"):
        st.session_state[f"{prefix}_version"] = theirs_version
        st.session_state.pop(f"{prefix}_conflict", None)
        st.info("Your values are still in the form: press Save to store them over the other version.")
    if take.button("Take theirs", key=f"{prefix}_take_theirs"):
        take_theirs()
        st.rerun()
