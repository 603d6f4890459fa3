"""Who is calling: platform users and API keys as callers, visibility rules, seeding, and
each user's WhatsApp business numbers with their access tokens."""
