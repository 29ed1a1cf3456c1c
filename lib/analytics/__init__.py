"""Analytical CRM: sales, customers (RFM, cohorts, lifetime value, churn), baskets, pipeline and
correlations, all computed in SQL as the signed-in user (row-level security decides what counts).

Shared rules live in `lib.analytics.common` and `docs/analytics.md` states every definition.
"""
