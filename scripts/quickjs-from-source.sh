#!/usr/bin/env bash
# Rebuilds the virtualenv's quickjs-ng (the default SSR engine), the same version, from its source
# with -fno-semantic-interposition (and -O3), when it is installed. The PyPI wheel is built without
# it, so every call between QuickJS's own functions (a reference count dropped, a property looked
# up) goes through the PLT and none is inlined: built this way, a 1,000-item render took 20-25 %
# less time (benchmarks/README.md, "QuickJS built from its source"). Needs a C compiler and
# Python's headers, as mendel_py's own optional C extensions do; where the build fails, what is
# installed stays and this says so. -DNDEBUG and -fwrapv are Python's own flags, which CFLAGS replaces.
set -u
python="${1:-.venv/bin/python}"
version=$("$python" -c 'import importlib.metadata as m; print(m.version("quickjs-ng"))' 2>/dev/null) || exit 0
flags="-DNDEBUG -fwrapv -O3 -fno-semantic-interposition"
# (no cache: a wheel built before, with other flags, would be taken as it is)
if CFLAGS="$flags" "$python" -m pip install -q --no-cache-dir --force-reinstall --no-deps \
    --no-binary quickjs-ng "quickjs-ng==$version"; then
  echo "quickjs-ng $version built from its source ($flags)"
else
  echo "quickjs-ng $version: the build from source failed; the installed build stays (the PyPI wheel renders 25-30 % slower)" >&2
fi
