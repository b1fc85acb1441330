"""notifier: delivers signed webhooks (Standard Webhooks) when jobs finish."""
