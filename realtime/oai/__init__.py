"""The OpenAI Realtime API at ``/v1/realtime``: a protocol adapter onto the same
:class:`~realtime.session.Session` (turn engine, VAD/STT, barge-in, memory, limits) as ``/ws``.

* :mod:`.wire` — server events as the client's dialect names them (GA, or beta), ids, errors;
* :mod:`.config` — ``session.update`` (GA and beta shapes) onto the session, and the effective
  configuration back (``session.created`` / ``session.updated``);
* :mod:`.items` — the conversation items the client sees (ids, order, content);
* :mod:`.sink` — our response and microphone events translated into OpenAI events;
* :mod:`.connection` — the client events, dispatched onto the session.

What is supported and what is not: ``docs/openai-realtime.md``.
"""
