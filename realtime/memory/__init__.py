"""Conversation memory: token budgets, summaries and the per-session context."""
