"""Outbound policy: what may be sent to a customer, such as the 24-hour window rule."""
