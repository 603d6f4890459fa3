"""Live conversations: the conversation service that runs the engine and persists its
outcome, the customers it talks to, and the admin use cases on conversations."""
