"""Workflow templates: the trigger catalog, documents and formats, versions, specs,
permissions by customer type, Flow Runner flows and statistics."""
