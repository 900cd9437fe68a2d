"""The conversation items an OpenAI client sees: their ids, order and current content.

The history itself (what the model reads next turn) is the session's
:class:`~realtime.memory.conversation.Conversation`; this registry only maps the client's item
ids onto it — user items onto the text they carry (typed, or transcribed), assistant items onto
the response that spoke them (so ``conversation.item.truncate`` finds the response to cut and
``conversation.item.retrieve`` answers with what the history keeps: the heard text).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from realtime.oai.wire import new_id

MAX_ITEMS = 256  # the oldest are forgotten (retrieve/truncate of them: NOT_FOUND)


@dataclass
class Item:
    id: str
    role: str  # user | assistant
    kind: str  # input_text | input_audio | output_audio | output_text
    text: str | None = None  # typed text, transcript, or the answer (as heard, once cut)
    status: str = "completed"  # completed | in_progress | incomplete
    response_id: int | None = None  # assistant: our response id
    answered: bool = False  # user: a response has taken this input
    extra: dict = field(default_factory=dict)

    def content(self) -> dict:
        key = "text" if self.kind in ("input_text", "output_text") else "transcript"
        return {"type": self.kind, key: self.text}

    def as_dict(self) -> dict:
        return {"id": self.id, "object": "realtime.item", "type": "message", "role": self.role,
                "status": self.status, "content": [self.content()]}


class Items:
    def __init__(self) -> None:
        self._items: OrderedDict[str, Item] = OrderedDict()
        self.last_id: str | None = None  # previous_item_id of the next item
        self.by_utterance: dict[int, str] = {}  # our utterance id -> the user item's id
        self.by_response: dict[int, str] = {}  # our response id -> the assistant item's id

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def add(self, item: Item) -> str | None:
        """Append ``item``; -> the id of the item before it (``previous_item_id``)."""
        if item.id in self._items:
            raise ValueError(f"item {item.id!r} already exists")
        previous = self.last_id
        self._items[item.id] = item
        self.last_id = item.id
        if item.response_id is not None:
            self.by_response[item.response_id] = item.id
        while len(self._items) > MAX_ITEMS:
            old_id, old = self._items.popitem(last=False)
            self.by_response.pop(old.response_id, None)  # type: ignore[arg-type]
        return previous

    def remove(self, item_id: str) -> None:
        item = self._items.pop(item_id)
        if item.response_id is not None:
            self.by_response.pop(item.response_id, None)
        if self.last_id == item_id:
            self.last_id = next(reversed(self._items), None)

    def utterance_item(self, utterance_id: int) -> str:
        """The user item id of a spoken utterance (made at its first event)."""
        item_id = self.by_utterance.get(utterance_id)
        if item_id is None:
            item_id = self.by_utterance[utterance_id] = new_id("item")
            if len(self.by_utterance) > MAX_ITEMS:
                self.by_utterance.pop(next(iter(self.by_utterance)))
        return item_id

    def pending_input(self) -> list[Item]:
        """User items with text that no response has answered yet (oldest first)."""
        return [i for i in self._items.values()
                if i.role == "user" and not i.answered and i.text]
