"""The bottom layer: what both `workflows` and `chatkit_server` build on (the request
context, merging what waits in a stream, the attachment reader, and the workflow lookup the
session code asks). It imports nothing else of the app."""
