# syntax=docker/dockerfile:1
# chatkit_app: one image for the app hosts (`app`) and one for Caddy with the same frontend
# build (`web`). Build both from the same checkout and the same public URL:
#   docker build --target app --build-arg CHATKIT_PUBLIC_URL=https://chat.example.com -t chatkit_app .
#   docker build --target web --build-arg CHATKIT_PUBLIC_URL=https://chat.example.com -t chatkit_web .
# or let deploy/compose.yml do it. docs/deployment.md explains every setting.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: Python packages, then the frontend once (`make build`) ------------------------
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends make nodejs npm unzip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false
COPY requirements.txt Makefile ./
RUN make setup
COPY rxconfig.py ./
COPY reflex.lock ./reflex.lock
COPY assets ./assets
COPY chatkit_app ./chatkit_app
ARG CHATKIT_PUBLIC_URL
RUN make build CHATKIT_PUBLIC_URL="${CHATKIT_PUBLIC_URL}"

# --- app: the backend of one host, non-root, no build tools ------------------------------
FROM ${PYTHON_IMAGE} AS app
RUN useradd --create-home --uid 10001 chat && mkdir -p /data && chown chat /data
WORKDIR /app
COPY --from=build /app/.venv ./.venv
COPY --from=build /app/rxconfig.py ./
COPY --from=build /app/assets ./assets
COPY --from=build /app/chatkit_app ./chatkit_app
COPY --from=build /app/.web/build/client ./.web/build/client
ENV PATH=/app/.venv/bin:$PATH \
    CHATKIT_DATA_DIR=/data \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    PYTHONUNBUFFERED=1
USER chat
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
STOPSIGNAL SIGTERM
CMD ["python", "-m", "chatkit_app.serve", "--port", "8000"]

# --- web: Caddy with the same frontend build -----------------------------------------------
FROM caddy:2 AS web
COPY deploy/Caddyfile /etc/caddy/Caddyfile
COPY --from=build /app/.web/build/client /srv/frontend
