"""FastAPI application and routers (thin: they translate, services decide)."""
