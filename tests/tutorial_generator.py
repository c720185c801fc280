"""The Bedrock tutorial's synthetic-data generator, written out from its published recipe
(values in shared/docs/tutorial.md). Tests compare nova_ft's bytes with what this writes."""

from __future__ import annotations

import json
import random
from pathlib import Path

INTENTS = [
    "flight",
    "airfare",
    "airline",
    "ground_service",
    "abbreviation",
    "aircraft",
    "flight_time",
    "quantity",
]
SYSTEM = (
    "Classify the intent of airline queries. Choose one intent from this list: "
    + ", ".join(INTENTS)
    + "\n\nRespond with only the intent name, nothing else."
)
TEMPLATES = {
    "flight": ["show me flights from {a} to {b}", "i need a flight to {b} from {a}"],
    "airfare": ["how much is a ticket from {a} to {b}", "cheapest fare {a} to {b}"],
    "airline": ["which airlines fly from {a} to {b}", "what carrier serves {a}"],
    "ground_service": ["car rental in {b}", "ground transportation at {b} airport"],
    "abbreviation": ["what does the fare code y mean", "what is the abbreviation ap57"],
    "aircraft": ["what kind of plane flies {a} to {b}", "aircraft type for this route"],
    "flight_time": ["what time does the {a} flight leave", "departure times from {a}"],
    "quantity": ["how many flights from {a} to {b}", "number of daily flights to {b}"],
}
CITIES = ["boston", "denver", "atlanta", "dallas", "seattle", "miami", "chicago"]


def row() -> dict[str, object]:
    intent = random.choice(INTENTS)
    a, b = random.sample(CITIES, 2)
    text = random.choice(TEMPLATES[intent]).format(a=a, b=b)
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM}],
        "messages": [
            {"role": "user", "content": [{"text": text}]},
            {"role": "assistant", "content": [{"text": intent}]},
        ],
    }


def lines(seed: int, n: int) -> list[str]:
    random.seed(seed)
    return [json.dumps(row()) + "\n" for _ in range(n)]


def write_tutorial_files(out: Path) -> None:
    """seed 7: rows 0-799 to train.jsonl, 800-899 to valid.jsonl; seed 99: 120 test rows."""
    rows = lines(7, 900)
    (out / "train.jsonl").write_text("".join(rows[:800]))
    (out / "valid.jsonl").write_text("".join(rows[800:]))
    (out / "test.jsonl").write_text("".join(lines(99, 120)))
