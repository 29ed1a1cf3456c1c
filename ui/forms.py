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
