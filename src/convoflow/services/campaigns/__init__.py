"""Campaigns: approved WhatsApp templates sent to an audience, paced by Meta's limits."""
