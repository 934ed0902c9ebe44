"""gunicorn settings for the Django shop, run from the repository root:

    gunicorn -c examples/django_shop/gunicorn.conf.py -b 127.0.0.1:8000

As for the Flask shop (examples/gunicorn.conf.py): the app is imported once in the master
(preload_app), so the manifests are read and checked once before the workers fork, and each
worker starts on the current generation. MENDEL_WORKERS sets the number of workers (default 2).
"""
import os

wsgi_app = "django_shop.wsgi:application"
pythonpath = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # examples/
raw_env = ["DJANGO_SETTINGS_MODULE=django_shop.settings"]
workers = int(os.environ.get("MENDEL_WORKERS", "2"))
preload_app = True
accesslog = "-"


def when_ready(server):
    """The app is loaded in the master: make shared work once, before workers fork."""
    from mendel_py.django.conf import get_core
    from mendel_py.serving.prefork import prepare_for_fork

    prepare_for_fork(get_core().trees)


def post_fork(server, worker):
    """A worker starts on the current generation; its watcher thread swaps newer ones in."""
    from mendel_py.core.trees import reload_all_if_changed

    reload_all_if_changed()
