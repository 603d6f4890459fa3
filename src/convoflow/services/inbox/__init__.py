"""Inbound messages: store each once (routed to its owner), apply delivery statuses, and
process every customer's pending messages in order under the conversation lock."""
