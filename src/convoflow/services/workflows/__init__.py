"""Workflow instances: their lifecycle, dependencies on outside APIs, end actions, and
what a finished effect means."""
