import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from chatkit_app.settings import settings_or_exit

settings = settings_or_exit()
config = rx.Config(
    app_name="chatkit_app",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,  # the sticky badge covered the composer's send button
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="blue", radius="large"))],
    disable_plugins=[SitemapPlugin],
)
