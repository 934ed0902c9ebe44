"""gunicorn settings for the example shop: `python -m gunicorn -c examples/gunicorn.conf.py`.

The app is imported once in the master (preload_app) so the manifests are read and validated a
single time, before the workers fork. MENDEL_BIND picks the address (default 127.0.0.1:8000),
MENDEL_WORKERS the number of workers (default 2).
"""
import os

wsgi_app = "shop.app:create_app()"
pythonpath = os.path.dirname(os.path.abspath(__file__))
bind = [os.environ.get("MENDEL_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("MENDEL_WORKERS", "2"))
preload_app = True
accesslog = "-"


def when_ready(server):
    """The app is loaded in the master (preload_app): make shared work once, before workers fork."""
    from mendel_py.serving.prefork import prepare_for_fork

    prepare_for_fork(server.app.wsgi().extensions["mendel"].trees)


def post_fork(server, worker):
    """A worker starts on the current generation, even one forked from a master that preloaded an
    older one (after `kill -HUP <master>` too); from then on its watcher thread swaps new
    generations in (MENDEL_RELOAD_INTERVAL)."""
    from mendel_py.core.trees import reload_all_if_changed

    reload_all_if_changed()
