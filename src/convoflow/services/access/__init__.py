"""Who is calling: platform users and API keys as callers, visibility rules, seeding."""
