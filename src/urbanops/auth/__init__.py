"""Users, roles with grid scope, sessions, tokens, API keys and the audit trail."""
