"""What an operator watches: health and readiness endpoints, Prometheus metrics, JSON logs
with request ids (docs/deployment.md, "Health, metrics and logs").

Layers: `metrics`, `multiproc` and `logs` import nothing of the app, so any layer may call
them (the hooks); `readiness` and `layer` sit at the top, beside the API (they use the
services).
"""
