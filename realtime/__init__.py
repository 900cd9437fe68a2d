"""Realtime voice-avatar server.

Nothing is started at import: build the app with :func:`realtime.app.create_app`.
"""

__version__ = "0.1.0"
