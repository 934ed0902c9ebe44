"""Framework adapters over `serving`: the Flask extension (`flask`) and the Jinja loader that
picks templates by variation (`jinja`).

May import everything below `cli`; imports `cli` only lazily, to mount `flask mendel`.
"""
