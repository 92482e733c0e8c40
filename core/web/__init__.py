"""The Starlette web app: webhooks, console, API, health and metrics."""
