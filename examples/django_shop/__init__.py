"""The example shop as a Django project (see settings.py)."""
