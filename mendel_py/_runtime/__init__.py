"""Process-level plumbing every layer may use, and that knows nothing of Mendel: files replaced
in one step (`atomic`), the `.mendel-cache/` folders (`cachedir`), the pid renewed at fork
(`process`), glibc allocator settings (`allocator`), injected fault points for tests (`faults`).

Imports nothing of mendel_py but `errors`. Private: its names are not public API.
"""
