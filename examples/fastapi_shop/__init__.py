"""The example shop as a FastAPI app (see app.py)."""
