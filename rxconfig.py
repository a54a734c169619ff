import os

import reflex as rx
from reflex.constants import StateManagerMode
from reflex_base.plugins.sitemap import SitemapPlugin

from chatkit_app.ops import multiproc
from chatkit_app.settings import settings_or_exit

settings = settings_or_exit()
# One metrics directory for all the workers of this run, before anything imports
# prometheus_client (chatkit_app/ops/multiproc.py).
multiproc.prepare(settings.chatkit_data_dir)
# Without Redis, Reflex state lives in memory only: no `.states/` files on disk. State
# holds no credential either way (chatkit_app/ui/private_state.py), and losing it loses
# nothing: identity comes from the cookie, threads from the database.
_redis = os.environ.get("REFLEX_REDIS_URL")  # REDIS_URL alone is not read by Reflex (yet)
config = rx.Config(
    state_manager_mode=StateManagerMode.REDIS if _redis else StateManagerMode.MEMORY,
    app_name="chatkit_app",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,  # the sticky badge covered the composer's send button
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="blue", radius="large"))],
    disable_plugins=[SitemapPlugin],
)
