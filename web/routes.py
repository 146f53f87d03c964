"""The URL map: every route of the application in one table, in the order aiohttp matches them.

A route's handler lives in its area's module under web/views/; the table is the one place to read which
address does what (and the route-walking tests read the router this builds). Named routes are the ones
templates and redirects build addresses from.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.views import (
    account,
    actions,
    admin,
    admin_bots,
    admin_canned,
    admin_communities,
    admin_operators,
    admin_rules,
    admin_tokens,
    audit,
    auth,
    checkpoint_verification,
    checkpoints,
    conversation,
    evidence,
    health,
    inbox,
    live,
    manager_live,
    stats,
)

GET, POST = "GET", "POST"
CONVERSATION = "/conversations/{id:\\d+}"

# (method, path, handler, name or None)
ROUTES = [
    # Service
    (GET, "/healthz", health.healthz, None),
    (GET, "/metrics", health.metrics, None),
    (GET, "/login", auth.login_page, "login"),
    (POST, "/login", auth.login_submit, None),
    (POST, "/logout", auth.logout, None),
    (POST, "/sessions/end", auth.end_sessions, None),
    (GET, "/account", account.account_page, "account"),
    (POST, "/account/password", account.change_password, None),
    (POST, "/account/language", account.change_language, None),
    # The inbox, the conversation page and its partials, live updates
    (GET, "/", inbox.index, "index"),
    (GET, "/conversations/next", conversation.next_waiting, None),
    (GET, CONVERSATION, conversation.page, "conversation"),
    (GET, CONVERSATION + "/items/{item_id:\\d+}/versions", conversation.versions, None),
    (GET, CONVERSATION + "/{part:[a-z]+}", conversation.page, None),
    (GET, "/outbox/{id:\\d+}", conversation.outbox_state, None),
    (GET, "/live", live.stream, None),
    (GET, "/live/manager", manager_live.stream, None),
    # Operator actions
    (POST, CONVERSATION + "/reply", actions.reply, None),
    (POST, CONVERSATION + "/notes", actions.add_note, None),
    (POST, CONVERSATION + "/close", actions.close, None),
    (POST, CONVERSATION + "/reopen", actions.reopen, None),
    (POST, CONVERSATION + "/assign", actions.assign, None),
    (POST, CONVERSATION + "/read", actions.mark_read, None),
    (POST, CONVERSATION + "/ban", actions.ban, None),
    (POST, CONVERSATION + "/unban", actions.unban, None),
    (POST, CONVERSATION + "/mute", actions.mute, None),
    (POST, "/items/{item_id:\\d+}/delete", actions.delete_comment, None),
    (POST, "/items/{item_id:\\d+}/restore", actions.restore_comment, None),
    # Statistics: CSV exports, then the pages
    (GET, "/stats/operators.csv", stats.operators_csv, None),
    (GET, "/stats/rankings.csv", stats.rankings_csv, None),
    (GET, "/stats/communities.csv", stats.communities_csv, None),
    (GET, "/stats/timeseries.csv", stats.timeseries_csv, None),
    (GET, "/stats/hourly.csv", stats.hourly_csv, None),
    (GET, "/stats/conversations.csv", stats.conversations_csv, None),
    (GET, "/stats", stats.stats_page, "stats"),
    (GET, "/stats/series.json", stats.series_json, None),
    (GET, "/stats/drill", stats.drill_page, None),
    # Audit: CSV exports, then the pages
    (GET, "/audit/journal.csv", audit.journal_csv, None),
    (GET, "/audit/deleted.csv", audit.deleted_csv, None),
    (GET, "/journal", audit.journal_view, "journal"),
    (GET, "/journal/checkpoints", checkpoints.checkpoints_view, "checkpoints"),
    (GET, "/journal/checkpoints/verification", checkpoint_verification.verification_status, None),
    (POST, "/journal/checkpoints/verify", checkpoint_verification.verify_now, None),
    (GET, "/evidence", evidence.evidence_download, "evidence"),
    (GET, "/deleted", audit.deleted_view, "deleted"),
    (POST, "/deleted/{item_id:\\d+}/restore", audit.restore_view, None),
    (GET, "/search", audit.search_view, "search"),
    (GET, "/timeline", audit.timeline_view, "timeline"),
    # Settings (admins)
    (GET, "/admin", admin.overview, "admin"),
    (GET, "/admin/communities", admin_communities.communities_list, None),
    (POST, "/admin/communities", admin_communities.community_create, None),
    (GET, "/admin/communities/new", admin_communities.community_new, None),
    (GET, "/admin/communities/{id:\\d+}", admin_communities.community_page, None),
    (POST, "/admin/communities/{id:\\d+}", admin_communities.community_update, None),
    (POST, "/admin/communities/{id:\\d+}/active", admin_communities.community_active, None),
    (POST, "/admin/communities/{id:\\d+}/test", admin_communities.community_test, None),
    (GET, "/admin/bots/new", admin_bots.bot_new, None),
    (POST, "/admin/bots", admin_bots.bot_create, None),
    (GET, "/admin/bots/{id:\\d+}", admin_bots.bot_page, None),
    (POST, "/admin/bots/{id:\\d+}", admin_bots.bot_update, None),
    (POST, "/admin/bots/{id:\\d+}/connect", admin_bots.bot_connect, None),
    (POST, "/admin/bots/{id:\\d+}/test", admin_bots.bot_test, None),
    (GET, "/admin/operators", admin_operators.operators_list, None),
    (POST, "/admin/operators", admin_operators.operator_create, None),
    (GET, "/admin/operators/{id:\\d+}", admin_operators.operator_page, None),
    (POST, "/admin/operators/{id:\\d+}", admin_operators.operator_update, None),
    (POST, "/admin/operators/{id:\\d+}/communities", admin_operators.operator_communities, None),
    (POST, "/admin/operators/{id:\\d+}/active", admin_operators.operator_active, None),
    (POST, "/admin/operators/{id:\\d+}/password", admin_operators.operator_password, None),
    (GET, "/admin/tokens", admin_tokens.tokens_list, None),
    (POST, "/admin/tokens", admin_tokens.token_create, None),
    (POST, "/admin/tokens/{id:\\d+}/revoke", admin_tokens.token_revoke, None),
    (GET, "/admin/canned", admin_canned.canned_list, None),
    (POST, "/admin/canned", admin_canned.canned_create, None),
    (GET, "/admin/canned/{id:\\d+}", admin_canned.canned_page, None),
    (POST, "/admin/canned/{id:\\d+}", admin_canned.canned_update, None),
    (POST, "/admin/canned/{id:\\d+}/delete", admin_canned.canned_delete, None),
    (GET, "/admin/rules", admin_rules.rules_list, None),
    (POST, "/admin/rules", admin_rules.rule_create, None),
    (GET, "/admin/rules/new", admin_rules.rule_new, None),
    (GET, "/admin/rules/{id:\\d+}", admin_rules.rule_page, None),
    (POST, "/admin/rules/{id:\\d+}", admin_rules.rule_update, None),
    (POST, "/admin/rules/{id:\\d+}/mode", admin_rules.rule_mode, None),
    (POST, "/admin/rules/{id:\\d+}/archive", admin_rules.rule_archive, None),
    (GET, "/admin/rules/{id:\\d+}/hits", admin_rules.rule_hits, None),
    (POST, "/admin/rules/{id:\\d+}/hits/{hit_id:\\d+}/undo", admin_rules.rule_hit_undo, None),
]


def setup_routes(app: web.Application, static_dir: Path) -> None:
    for method, path, handler, name in ROUTES:
        if method == GET:
            app.router.add_get(path, handler, name=name)  # and HEAD, as aiohttp adds with every GET
        else:
            app.router.add_post(path, handler, name=name)
    app.router.add_static("/static/", static_dir, name="static")
    live.prepare_streams(app)
    manager_live.prepare_streams(app)
    checkpoint_verification.prepare_verifications(app)
