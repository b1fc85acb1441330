"""auth: users, credentials, access and refresh tokens (and, later, subscriptions and quotas)."""
