"""The self-hosted ChatKit server: protocol (openai-chatkit SDK), store, attachments."""
