"""Messaging channels: where customer messages come from and replies go to."""
