"""WhatsApp Cloud API: webhook verification and parsing, payload builders, Graph API client."""
