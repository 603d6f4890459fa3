"""Analytics of a template over a date range: runs, completion, the step funnel, message
delivery and response time, as JSON or CSV."""
