"""The example shop (see shop/app.py)."""
