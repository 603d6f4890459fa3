"""The builder's simulator: a test customer talking to a template without WhatsApp."""
