"""Clients of upstream services (OpenAI's hosted ChatKit sessions)."""
