"""The bottom layer: what both `workflows` and `chatkit_server` build on (the request
context, merging what waits in a stream). It imports nothing else of the app."""
