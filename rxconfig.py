import reflex as rx
from reflex.constants import StateManagerMode
from reflex_base.plugins.sitemap import SitemapPlugin

from chatkit_app.cluster.workers import configure_backend
from chatkit_app.ops import multiproc
from chatkit_app.settings import settings_or_exit

# A bad setting (or CHATKIT_WORKERS > 1 without Redis) stops `reflex run` with one line, exit 2.
settings = settings_or_exit()
configure_backend(settings)  # CHATKIT_WORKERS Granian workers, a dead one replaced
# One metrics directory for all the workers of this run, before anything imports
# prometheus_client (chatkit_app/ops/multiproc.py).
multiproc.prepare(settings.chatkit_data_dir)
# Without Redis, Reflex state lives in memory only: no `.states/` files on disk. State
# holds no credential either way (chatkit_app/ui/private_state.py), and losing it loses
# nothing: identity comes from the cookie, threads from the database.
_redis = settings.resolved_redis_url  # REDIS_URL or REFLEX_REDIS_URL
config = rx.Config(
    state_manager_mode=StateManagerMode.REDIS if _redis else StateManagerMode.MEMORY,
    redis_url=_redis,
    app_name="chatkit_app",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,  # the sticky badge covered the composer's send button
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="blue", radius="large"))],
    disable_plugins=[SitemapPlugin],
)
