"""LLM engines behind :class:`realtime.engines.llm.base.LLM`."""
