# JupyterHub recipe: the tl_widgets Studio as each user's own Voilà page (see docs/WORKSHOP.md, "Rooms with accounts").
#
#   pip install "tl-widgets[hub]"            # jupyterhub + a configurable-http-proxy
#   KERAS_HOME=/srv/tlw/keras tl-widgets weights prefetch mobilenet_v2 && chmod -R a-w /srv/tlw/keras
#   jupyterhub -f jupyterhub_config.py
#
# Edit the marked lines for your room. Tested by tests/browser/test_jupyterhub.py (two users, each trains the demo).
import os
import shutil
import sys
from pathlib import Path

import tl_widgets

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

ROOT = Path(os.environ.get("TLW_HUB_ROOT", "/srv/tlw"))  # EDIT: where homes, the hub's state and the cache live
APP = Path(tl_widgets.__file__).parent / "app"  # the packaged Studio notebook (studio.ipynb)

c.JupyterHub.ip = "0.0.0.0"  # EDIT: the address students reach
c.JupyterHub.port = 8000
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "hub" / "cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "hub" / "proxy.pid")
c.ConfigurableHTTPProxy.command = [shutil.which("configurable-http-proxy")
                                   or str(Path(sys.executable).parent / "configurable-http-proxy")]

# EDIT: accounts. "dummy" (one shared password) is for a trial; use "native", "pam" or an OAuth login for a class.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("TLW_HUB_PASSWORD", "change-me")
c.Authenticator.allowed_users = set(os.environ.get("TLW_HUB_USERS", "").split()) or {"student1", "student2"}

# Each user: their own home (their runs, uploads and caches in ~/.tl_widgets), the Studio as the landing page.
# "simple" runs every user as this OS user (a trial on one machine); for separate OS accounts use "localprocess"
# (system users), or a container spawner (dockerspawner, kubespawner) with the same environment.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(ROOT / "homes" / "{username}")
c.Spawner.notebook_dir = str(APP)
c.Spawner.default_url = "/voila/render/studio.ipynb"
c.Spawner.args = ["--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False"]
c.Spawner.environment = {
    "KERAS_HOME": str(ROOT / "keras"),  # weights prefetched once, read-only for everyone
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",  # EDIT: cores per user
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # "TL_WIDGETS_WORKSHOP": "/srv/tlw/workshop.yaml",  # EDIT: the teacher's limits (see the workshop file)
}
c.JupyterHub.shutdown_on_logout = True
