"""Protocol v1 (see ``messages.py``)."""
from realtime.protocol.messages import *  # noqa: F401,F403
