"""Communications: drafting per obligation and per contact, approval, the transactional outbox, channels
(SMTP, signed webhook, Slack, Microsoft Teams), delivery workers with leases, escalation and reminders.

Message text comes from `leakline.notify.render` (Jinja2 templates). Kept import-light: leakline.config
imports `notify.settings`.
"""
