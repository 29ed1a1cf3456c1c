"""Reading the audit log: plain-language lines of who did what, for Home and record pages."""

from __future__ import annotations

TABLE_LABELS = {
    "workspaces": "the workspace",
    "workspace_members": "a member",
    "invitations": "an invitation",
}
VERBS = {"insert": "added", "update": "changed", "delete": "removed"}
# Tables audited per statement (one entry for many rows: {"rows": n, "status": {...}}).
COUNTED = {"outbox": ("email in the outbox", "emails in the outbox"),
           "campaign_members": ("campaign member", "campaign members")}


def describe(entry: dict) -> str:
    """E.g. 'changed the workspace (name)' for one audit_log row with a `changes` jsonb."""
    table = entry["table_name"]
    label = TABLE_LABELS.get(table, table.replace("_", " "))
    verb = VERBS.get(entry["action"], entry["action"])
    if table == "workspaces" and entry["action"] == "insert":
        return f"created the workspace “{entry['changes'].get('name', '')}”"
    if table == "workspace_members" and entry["action"] == "insert":
        return f"added a member as {entry['changes'].get('role', '')}"
    if table == "invitations" and entry["action"] == "insert":
        return f"invited someone as {entry['changes'].get('role', '')}"
    if table in COUNTED and "rows" in entry["changes"]:
        rows = entry["changes"]["rows"]
        moves = ", ".join(f"{k}: {v:,}" for k, v in sorted((entry["changes"].get("status") or {}).items()))
        return f"{verb} {rows:,} {COUNTED[table][rows != 1]}" + (f" ({moves})" if moves else "")
    if entry["action"] == "update":
        fields = ", ".join(sorted(f.removesuffix("_id").replace("_", " ") for f in entry["changes"]))
        return f"{verb} {label} ({fields})"
    return f"{verb} {label}"


def latest_change(db, claims, workspace_id: str) -> int:
    """The id of the workspace's newest audit entry: changes whenever any of its records does,
    so screens can keep an expensive result until this moves."""
    with db.as_user(claims) as conn:
        row = conn.execute(
            "select id from public.audit_log where workspace_id = %s order by changed_at desc, id desc limit 1",
            [workspace_id],
        ).fetchone()
    return row["id"] if row else 0
