"""Campaign page (deep link `?campaign=<id>`): its figures (cost, attributed revenue, ROI, leads),
status steps, details (conflict-safe edits), and per channel: for email the audience and template
with a dry run (how many would be emailed, how many excluded and why) and a preview as a member,
then Send now or Schedule (and after launch: the same counts, the emails' progress, moving the
send time); for the other channels the planned posts. Members by status with CSV, and the deals
and orders credited to the campaign."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import streamlit as st

from lib import campaign_results, campaigns, segments, templates
from lib.csv_export import to_csv
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import is_uuid
from lib.workspaces import can_manage_members, can_write
from ui import session
from ui.forms import FieldSlots, attempt
from ui.marketing import BADGES, MAIL_SETUP, browser_zone, mail_setup_note, public_url, show_email

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

campaign_id = st.query_params.get("campaign", "")
campaign = campaigns.get(db, claims, ws, campaign_id) if is_uuid(campaign_id) else None
if campaign is None:
    st.title("Campaign not found")
    st.info("This campaign does not exist in this workspace, or it was deleted.")
    st.page_link("views/campaigns.py", label="Go to Campaigns", icon=":material/campaign:")
    st.stop()
cid, version = str(campaign["id"]), campaign["version"]
email_channel = campaign["channel"] == "email"
launched = campaign["launched_at"] is not None
figures = campaign_results.figures(db, claims, ws, cid)
money = campaign["currency"]


def amount(value) -> str:
    return "–" if value is None else f"{value:,.2f} {money}"


def done(message: str) -> None:
    """After a change: the message as a toast, and the details form refilled from the new version."""
    for key in [k for k in st.session_state if str(k).startswith((f"cmp_seen_{cid}", f"cmp_edit_{cid}"))]:
        st.session_state.pop(key, None)
    st.session_state.flash = message
    st.rerun()


st.page_link("views/campaigns.py", label="Campaigns", icon=":material/arrow_back:")
st.title(md_escape(campaign["name"]))
facts = [BADGES[campaign["status"]], campaigns.CHANNELS[campaign["channel"]]]
if campaign["starts_on"] or campaign["ends_on"]:
    facts.append(f"{campaign['starts_on'] or '…'} – {campaign['ends_on'] or '…'}")
if campaign["segment_name"]:
    facts.append("audience: " + md_escape(campaign["segment_name"]))
if campaign["template_name"]:
    facts.append("template: " + md_escape(campaign["template_name"]))
st.markdown(" · ".join(facts))
if campaign["description"]:
    st.markdown(campaign["description"])  # markdown without raw HTML (Streamlit's default)

cols = [c for row in (st.columns(3), st.columns(3)) for c in row]
cols[0].metric("Budget", amount(campaign["budget"]))
cols[1].metric("Actual cost", amount(campaign["actual_cost"]))
cols[2].metric("Attributed revenue", amount(figures["revenue"]),
               help="Won deals' value and sales' totals credited to this campaign, in its currency.")
cols[3].metric("ROI", "–" if figures["roi"] is None else f"{figures['roi'] * 100:,.1f} %",
               help="(Attributed revenue − actual cost) / actual cost.")
cols[4].metric("Leads", figures["leads"], help="Members marked converted, and the people of credited deals.")
cols[5].metric("Cost per lead", amount(figures["cost_per_lead"]))
if figures["other_currency"]:
    st.caption(f"{figures['other_currency']} credited deals or orders are in another currency than {money} "
               "and are not counted in the revenue.")

# -- status steps ---------------------------------------------------------------------------------
if writer:
    steps = [s for s in campaigns.TRANSITIONS[campaign["status"]]
             if not (email_channel and campaign["status"] == "draft" and s != "cancelled")
             and not (email_channel and s == "running" and campaign["status"] == "scheduled")]
    labels = {"scheduled": ("Mark planned", ":material/event:"), "running": ("Start", ":material/play_arrow:"),
              "completed": ("Complete", ":material/flag:"), "cancelled": ("Cancel campaign", ":material/block:")}
    step_cols = st.columns(max(len(steps), 1) + 2)
    for col, step in zip(step_cols, steps):
        label, icon = labels[step]
        if col.button(label, icon=icon, key=f"cmp_step_{step}"):
            if attempt(lambda step=step: campaigns.set_status(db, claims, ws, cid, step, version)):
                done(f"Campaign {campaigns.STATUSES[step].lower()}."
                     + (" Emails not sent yet are cancelled." if step == "cancelled" and email_channel else ""))

tabs = st.tabs(["Audience & email" if email_channel else "Posts", "Members", "Attribution", "Details"])

# -- email: audience, template, dry run, preview, send ----------------------------------------------


def reason_rows(excluded: dict) -> list[dict]:
    return [{"Reason": campaigns.REASONS.get(reason, reason), "Contacts": n}
            for reason, n in sorted(excluded.items(), key=lambda kv: -kv[1])]


def save_choices() -> None:
    """The audience and template are saved as soon as they are chosen, so a draft keeps them."""
    chosen = {"segment_id": st.session_state.get("cmp_segment"), "template_id": st.session_state.get("cmp_template")}
    stored = campaigns.get(db, claims, ws, cid)
    if stored and all(str(stored[k]) == str(v) if v else stored[k] is None for k, v in chosen.items()):
        return  # saved already (both boxes changed in one rerun)
    try:
        campaigns.update(db, claims, ws, cid, {**{c: campaign[c] for c in campaigns.COLUMNS}, **chosen}, version)
    except FormErrors as exc:
        st.session_state.cmp_choice_notice = " ".join(exc.errors.values())
    except UserError as exc:  # a conflict included
        st.session_state.cmp_choice_notice = str(exc)


def email_tab() -> None:
    segment_list = segments.list_segments(db, claims, ws)
    template_list = templates.list_templates(db, claims, ws)
    if launched:
        counts = campaigns.snapshot_counts(db, claims, ws, cid)
        sent = campaigns.outbox_counts(db, claims, ws, cid)
        when = campaign["scheduled_at"].astimezone(browser_zone())
        excluded = sum(counts["excluded"].values())
        if campaign["status"] == "scheduled":
            st.info(f"Scheduled for {when:%Y-%m-%d %H:%M %Z}: {counts['targeted']:,} to be emailed, "
                    f"{excluded:,} excluded.", icon=":material/schedule_send:")
        else:
            st.success(f"Launched {campaign['launched_at']:%Y-%m-%d %H:%M} UTC to {counts['targeted']:,} recipients, "
                       f"{excluded:,} excluded; emails go out from {when:%Y-%m-%d %H:%M %Z}.",
                       icon=":material/outgoing_mail:")
        if sent["overdue"]:
            st.warning(f"{sent['overdue']:,} emails are more than {campaigns.OVERDUE.seconds // 60} minutes past their "
                       "send time and still queued: no mail worker seems to be sending. "
                       + MAIL_SETUP, icon=":material/mail_lock:")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Queued", sent.get("queued", 0))
        c2.metric("Sending", sent.get("sending", 0))
        c3.metric("Emails sent", sent.get("sent", 0))
        c4.metric("Failed or cancelled", sent.get("failed", 0))
        if counts["excluded"]:
            st.caption("Excluded (never emailed)")
            st.dataframe(reason_rows(counts["excluded"]), hide_index=True, key="cmp_excluded_after")
        if writer and campaign["stored_status"] == "scheduled" and campaign["status"] == "scheduled":
            move_col, now_col = st.columns(2)
            with move_col.popover("Move the send time", icon=":material/schedule:"):
                day = st.date_input("Date", value=when.date(), min_value=date.today(), key="cmp_move_day")
                clock = st.time_input("Time", value=when.time().replace(tzinfo=None), key="cmp_move_time")
                if st.button("Move", type="primary", key="cmp_move"):
                    at = datetime.combine(day, clock, tzinfo=browser_zone())
                    if attempt(lambda: campaigns.reschedule(db, claims, ws, cid, at, version)):
                        done(f"Emails move to {at:%Y-%m-%d %H:%M %Z}.")
            if now_col.button("Send now instead", icon=":material/send:", key="cmp_send_now_instead"):
                if attempt(lambda: campaigns.reschedule(db, claims, ws, cid, None, version)):
                    done("Emails go out now (as soon as the mail worker runs).")
        return

    if not segment_list or not template_list:
        st.info("An email campaign needs an audience and a template. "
                + ("Build a segment or a list on **Segments**. " if not segment_list else "")
                + ("Write a template on **Email templates**." if not template_list else ""),
                icon=":material/info:")
    slots = FieldSlots()
    if notice := st.session_state.pop("cmp_choice_notice", None):
        st.warning(notice, icon=":material/sync_problem:")
    seg_ids = [s["id"] for s in segment_list]
    seg_names = {s["id"]: f"{s['name']} ({segments.KINDS.get(s['kind'], s['kind']).lower()})" for s in segment_list}
    saved_seg = str(campaign["segment_id"]) if campaign["segment_id"] else None
    segment_id = st.selectbox("Audience", [None, *seg_ids], key="cmp_segment", disabled=not writer,
                              on_change=save_choices,
                              index=([None, *seg_ids].index(saved_seg) if saved_seg in seg_ids else 0),
                              format_func=lambda s: "Choose a segment or a list" if s is None else seg_names[s])
    slots.under("segment_id")
    tpl_ids = [t["id"] for t in template_list]
    tpl_names = {t["id"]: t["name"] for t in template_list}
    saved_tpl = str(campaign["template_id"]) if campaign["template_id"] else None
    template_id = st.selectbox("Template", [None, *tpl_ids], key="cmp_template", disabled=not writer,
                               on_change=save_choices,
                               index=([None, *tpl_ids].index(saved_tpl) if saved_tpl in tpl_ids else 0),
                               format_func=lambda t: "Choose a template" if t is None else tpl_names[t])
    slots.under("template_id")
    if not segment_id:
        return

    st.subheader("Who gets it")
    dry = attempt(lambda: campaigns.audience(db, claims, ws, segment_id))
    if dry is None:
        return
    d1, d2 = st.columns(2)
    d1.metric("Will be emailed", f"{dry['targeted']:,}")
    d2.metric("Excluded", f"{sum(dry['excluded'].values()):,}", help="Contacts without an email address, without "
              "marketing consent, or who unsubscribed are never emailed.")
    if dry["excluded"]:
        st.dataframe(reason_rows(dry["excluded"]), hide_index=True, key="cmp_excluded_before")
    st.caption("A dry run: the audience is counted now and fixed (snapshotted) when you send or schedule.")

    if template_id:
        st.subheader("Preview")
        find = st.text_input("Find a member to preview as", key="cmp_preview_find", placeholder="Name or email")
        sample = campaigns.audience_sample(db, claims, ws, segment_id, search=find)
        people = {r["id"]: f"{r['full_name'] or r['email'] or 'Contact'}"
                  + (f" ({r['email']})" if r["email"] else "") + (f" · excluded: {r['reason']}" if r["reason"] else "")
                  for r in sample}
        member = st.selectbox("Preview as", [None, *people], key="cmp_preview_member",
                              format_func=lambda m: "A sample contact" if m is None else people[m])
        chosen = next(t for t in template_list if t["id"] == template_id)
        email = attempt(lambda: templates.preview(db, claims, ws, chosen["subject"], chosen["body"], member,
                                                  public_url(rt)))
        if email:
            show_email(email, "cmp_preview")

    if not writer:
        return
    st.subheader("Send")
    mail_setup_note(rt)
    mode = st.radio("When", ["now", "later"], horizontal=True, key="cmp_when",
                    format_func=lambda m: "Send now" if m == "now" else "Schedule")
    at = None
    if mode == "later":
        zone = browser_zone()
        soon = (datetime.now(zone) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        day_col, time_col = st.columns(2)
        day = day_col.date_input("Date", value=soon.date(), min_value=date.today(), key="cmp_send_day")
        clock = time_col.time_input("Time", value=soon.time().replace(tzinfo=None), key="cmp_send_time")
        at = datetime.combine(day, clock, tzinfo=zone)
        st.caption(f"Time zone: {zone}.")
    label = "Send now" if mode == "now" else "Schedule"
    if st.button(label, type="primary", icon=":material/send:" if mode == "now" else ":material/schedule_send:",
                 key="cmp_launch"):
        if at is not None and at <= datetime.now(timezone.utc):
            slots.show({"template_id": "Choose a time in the future, or Send now."})
            return

        def go() -> dict:
            seen = version
            if segment_id != saved_seg or template_id != saved_tpl:
                seen = campaigns.update(db, claims, ws, cid, {**{c: campaign[c] for c in campaigns.COLUMNS},
                                                              "segment_id": segment_id, "template_id": template_id},
                                        version)
            return campaigns.launch(db, claims, ws, cid, send_at=at, version=seen)

        result = attempt(go, slots)
        if result:
            excluded = sum(result["excluded"].values())
            done(("Scheduled" if at else "Sent to the outbox") + f": {result['queued']:,} emails"
                 + (f" from {at:%Y-%m-%d %H:%M %Z}" if at else "") + f", {excluded:,} contacts excluded.")


def posts_tab() -> None:
    rows = campaigns.posts(db, claims, ws, cid)
    zone = browser_zone()
    if rows:
        table = [{"Planned": p["planned_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                  "Channel": campaigns.CHANNELS[p["channel"]], "Title": p["title"], "Content": p["content"],
                  "Done": p["done"]} for p in rows]
        event = st.dataframe(table, hide_index=True, width="stretch", key="cmp_posts_table", on_select="rerun",
                             selection_mode="single-row")
        picked = event.selection.rows if event else []
    else:
        st.info("No posts planned yet." + (" Plan one below: nothing is posted to outside networks, this is the "
                                           "team's calendar." if writer else ""), icon=":material/event_note:")
        picked = []
    if not writer:
        return
    post = rows[picked[0]] if picked else None
    prefix = f"cmp_post_{post['id']}" if post else "cmp_post_new"
    with st.container(border=True):
        st.markdown("**Edit post**" if post else "**Plan a post**")
        slots = FieldSlots()
        default_channel = post["channel"] if post else (campaign["channel"] if campaign["channel"] in
                                                        campaigns.POST_CHANNELS else "social")
        channel = st.selectbox("Channel", campaigns.POST_CHANNELS, format_func=campaigns.CHANNELS.get,
                               index=campaigns.POST_CHANNELS.index(default_channel), key=f"{prefix}_channel")
        slots.under("channel")
        planned = post["planned_at"].astimezone(zone) if post else datetime.combine(
            campaign["starts_on"] or date.today(), datetime.min.time().replace(hour=10), tzinfo=zone)
        day_col, time_col = st.columns(2)
        day = day_col.date_input("Date", value=planned.date(), key=f"{prefix}_day")
        clock = time_col.time_input("Time", value=planned.time().replace(tzinfo=None), key=f"{prefix}_time")
        slots.under("planned_at")
        title = st.text_input("Title", value=post["title"] if post else "", key=f"{prefix}_title", max_chars=200)
        slots.under("title")
        content = st.text_area("Content", value=(post["content"] or "") if post else "", key=f"{prefix}_content")
        slots.under("content")
        is_done = st.checkbox("Done", value=post["done"] if post else False, key=f"{prefix}_done")
        data = {"channel": channel, "planned_at": datetime.combine(day, clock, tzinfo=zone) if day and clock else None,
                "title": title, "content": content, "done": is_done}
        save_col, delete_col = st.columns(2)
        if save_col.button("Save post" if post else "Add post", type="primary", key=f"{prefix}_save"):
            saved = attempt(lambda: campaigns.update_post(db, claims, ws, str(post["id"]), data, post["version"])
                            if post else campaigns.create_post(db, claims, ws, cid, data), slots)
            if saved:
                for key in [k for k in st.session_state if str(k).startswith(prefix)]:
                    st.session_state.pop(key, None)
                done("Post saved." if post else "Post planned.")
        if post and can_manage_members(current.role) and delete_col.button("Delete post", key=f"{prefix}_delete"):
            if attempt(lambda: campaigns.delete_post(db, claims, ws, str(post["id"])) or True):
                done("Post deleted.")


with tabs[0]:
    if email_channel:
        email_tab()
    else:
        posts_tab()

# -- members --------------------------------------------------------------------------------------
with tabs[1]:
    by_status = figures["members"]
    if not by_status:
        st.info("No members yet." + (" They are fixed when the campaign is sent or scheduled." if email_channel
                                     else " Members belong to email campaigns; credit deals and orders under "
                                          "**Attribution**."), icon=":material/group:")
    else:
        order = list(campaigns.MEMBER_STATUSES)
        st.dataframe([{"Status": campaigns.MEMBER_STATUSES[s], "Members": by_status[s]}
                      for s in sorted(by_status, key=order.index)], hide_index=True, key="cmp_member_counts")
        st.caption("Each member counts once, at the furthest step reached: a member who clicked is under "
                   "“Clicked a link”, not also under “Sent”.")
        status = st.selectbox("Show", [None, *[s for s in order if s in by_status]], key="cmp_member_status",
                              format_func=lambda s: "All members" if s is None else campaigns.MEMBER_STATUSES[s])
        rows = campaigns.members(db, claims, ws, cid, status)
        table = [{"Name": r["full_name"], "Email": r["email"], "Status": campaigns.MEMBER_STATUSES[r["status"]],
                  "Excluded because": campaigns.REASONS.get(r["excluded_reason"], r["excluded_reason"]),
                  "Sent at": r["sent_at"], "First click": r["clicked_at"], "Converted at": r["converted_at"]} for r in rows]
        event = st.dataframe(table, hide_index=True, width="stretch", key="cmp_members_table",
                             on_select="rerun" if writer else "ignore", selection_mode="multi-row")
        st.download_button("Download CSV", data=to_csv(table, list(table[0]) if table else ["Name"]),
                           file_name="relata-campaign-members.csv", mime="text/csv", icon=":material/download:",
                           key="cmp_members_csv", on_click="ignore")
        picked = event.selection.rows if writer and event else []
        if picked:
            chosen = [rows[i]["contact_id"] for i in picked]
            r_col, c_col = st.columns(2)
            for col, mark in zip((r_col, c_col), campaigns.MARKABLE):
                if col.button(f"Mark {campaigns.MEMBER_STATUSES[mark].lower()} ({len(chosen)})", key=f"cmp_mark_{mark}"):
                    changed = attempt(lambda mark=mark: campaigns.mark_members(db, claims, ws, cid, chosen, mark))
                    if changed is not None:
                        done(f"{changed} members marked {campaigns.MEMBER_STATUSES[mark].lower()}.")

# -- attribution ----------------------------------------------------------------------------------
with tabs[2]:
    credited = campaign_results.attributed(db, claims, ws, cid)
    st.caption(f"Won deals: {amount(figures['deal_revenue'])} · sales: {amount(figures['order_revenue'])} "
               f"({figures['won_deals']} won of {figures['deals']} deals, {figures['orders']} sales).")
    for kind, rows, shape in (
            ("deal", credited["deals"], lambda r: {"Deal": r["title"], "Status": r["status"].capitalize(),
                                                   "Value": float(r["value"]), "Currency": r["currency"],
                                                   "Contact": r["contact"] or ""}),
            ("order", credited["orders"], lambda r: {"Order": r["number"], "Status": r["status"].capitalize(),
                                                     "Total": float(r["total_amount"]), "Currency": r["currency"],
                                                     "Customer": r["customer"] or ""})):
        st.markdown(f"**{kind.capitalize()}s credited**")
        if rows:
            table = [shape(r) for r in rows]
            st.dataframe([{**t, "open": f"{kind}?{kind}={r['id']}"} for t, r in zip(table, rows)], hide_index=True,
                         width="stretch", key=f"cmp_{kind}s_table", column_config={
                             "open": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
                             "Value": st.column_config.NumberColumn(format="%.2f"),
                             "Total": st.column_config.NumberColumn(format="%.2f")})
            st.download_button("Download CSV", data=to_csv(table, list(table[0])), file_name=f"relata-campaign-{kind}s.csv",
                               mime="text/csv", icon=":material/download:", key=f"cmp_{kind}s_csv", on_click="ignore")
        else:
            st.caption(f"No {kind}s credited yet.")
    if writer:
        with st.expander("Credit a deal or an order to this campaign"):
            kind = st.segmented_control("Kind", ["deal", "order"], default="deal", key="cmp_credit_kind",
                                        format_func=str.capitalize) or "deal"
            search = st.text_input("Search", key="cmp_credit_search",
                                   placeholder="Deal title" if kind == "deal" else "Order number")
            found = campaign_results.attribution_choices(db, claims, ws, kind, search)
            labels = {r["id"]: r["label"] + (" (credited here)" if r["campaign_id"] == cid else
                                             " (credited to another campaign)" if r["campaign_id"] else "")
                      for r in found}
            record = st.selectbox(kind.capitalize(), [None, *labels], key="cmp_credit_record",
                                  format_func=lambda r: "Choose" if r is None else labels[r])
            credit_col, remove_col = st.columns(2)
            if record and credit_col.button("Credit to this campaign", key="cmp_credit", type="primary"):
                if attempt(lambda: campaign_results.attribute(db, claims, ws, kind, record, cid) or True):
                    done(f"{kind.capitalize()} credited to the campaign.")
            if record and remove_col.button("Remove the credit", key="cmp_uncredit"):
                if attempt(lambda: campaign_results.attribute(db, claims, ws, kind, record, None) or True):
                    done(f"{kind.capitalize()} no longer credited to a campaign.")

# -- details --------------------------------------------------------------------------------------
with tabs[3]:
    if not writer:
        st.caption("Agents and above can edit campaigns.")
    seen_key = f"cmp_seen_{cid}"
    seen = st.session_state.setdefault(seen_key, version)
    prefix = f"cmp_edit_{cid}"
    if st.session_state.get(f"{seen_key}_conflict"):
        st.warning("Someone else saved this campaign while you were editing: the figures above show what they "
                   "saved. **Save details** again to keep your values.", icon=":material/sync_problem:")
    slots = FieldSlots()
    name = st.text_input("Name", value=campaign["name"], key=f"{prefix}_name", max_chars=200, disabled=not writer)
    slots.under("name")
    channels = list(campaigns.CHANNELS)
    channel = st.selectbox("Channel", channels, index=channels.index(campaign["channel"]), key=f"{prefix}_channel",
                           format_func=campaigns.CHANNELS.get, disabled=not writer or launched,
                           help="Fixed once the emails are sent or scheduled." if launched else None)
    slots.under("channel")
    start_col, end_col = st.columns(2)
    starts = start_col.date_input("Starts", value=campaign["starts_on"], key=f"{prefix}_starts", disabled=not writer,
                                  format="YYYY-MM-DD")
    slots.under("starts_on")
    ends = end_col.date_input("Ends", value=campaign["ends_on"], key=f"{prefix}_ends", disabled=not writer,
                              format="YYYY-MM-DD")
    slots.under("ends_on")
    b_col, c_col, cur_col = st.columns([2, 2, 1])
    budget = b_col.text_input("Budget", value="" if campaign["budget"] is None else str(campaign["budget"]),
                              key=f"{prefix}_budget", disabled=not writer)
    slots.under("budget")
    cost = c_col.text_input("Actual cost", value="" if campaign["actual_cost"] is None else str(campaign["actual_cost"]),
                            key=f"{prefix}_cost", disabled=not writer, help="What the campaign really cost: "
                            "ROI and cost per lead use it.")
    slots.under("actual_cost")
    currency = cur_col.text_input("Currency", value=campaign["currency"], key=f"{prefix}_currency", max_chars=3,
                                  disabled=not writer)
    slots.under("currency")
    description = st.text_area("Description", value=campaign["description"] or "", key=f"{prefix}_description",
                               disabled=not writer, help="Markdown works.")
    slots.under("description")
    if writer:
        save_col, delete_col = st.columns(2)
        if save_col.button("Save details", type="primary", key="cmp_edit_save"):
            data = {"name": name, "channel": channel, "starts_on": starts, "ends_on": ends, "budget": budget,
                    "actual_cost": cost, "currency": currency, "description": description,
                    "segment_id": campaign["segment_id"], "template_id": campaign["template_id"]}

            def save() -> int:
                try:
                    return campaigns.update(db, claims, ws, cid, data, seen)
                except ConflictError as exc:
                    st.session_state[seen_key] = exc.current["version"] if exc.current else seen
                    st.session_state[f"{seen_key}_conflict"] = True
                    st.rerun()

            if attempt(save, slots):
                for key in [k for k in st.session_state if str(k).startswith((prefix, seen_key))]:
                    st.session_state.pop(key, None)
                done("Campaign saved.")
        if can_manage_members(current.role) and delete_col.button("Delete campaign", key="cmp_delete",
                                                                  icon=":material/delete:"):
            if attempt(lambda: campaigns.delete(db, claims, ws, cid) or True):
                st.session_state.flash = "Campaign deleted."
                st.switch_page("views/campaigns.py")
