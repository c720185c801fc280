"""The local models know no data set: no label of a data set nova_ft ships (nor of its own
synthetic set) is written in the models' source, as a whole label or as one of its words.

Unit tests inside the source (`#[cfg(test)]` modules, always last in a file) may use any
words; everything above them is what answers users and is checked, comments included.
"""

from __future__ import annotations

import re
from pathlib import Path

import nova_ft
from nova_ft import datasets

MODELS_SOURCE = Path(__file__).resolve().parents[1] / "crates" / "nova-ft-models" / "src"

# Words of labels that a program or a judge prompt uses for their ordinary meaning, each with
# why it may appear: these are not a data set's vocabulary.
ORDINARY_WORDS = {
    "name": "a field of every parsed schema (table name, column name)",
    "no": "English negation, and Rust's `no` in comments",
    "time": "training time, std::time",
    "day": "English",
    "ground": "'ground truth', the name judge prompts give the reference answer",
}


def _labels() -> set[str]:
    labels: set[str] = set()
    for name in datasets.names():
        for split in ("train", "valid", "test"):
            try:
                rows = datasets.load(name, split)
            except nova_ft.NovaFtError:
                continue
            labels |= {str(r["intent"]) for r in rows if "intent" in r}
    synthetic = nova_ft.Dataset.synthetic(1, 400, 0).records()
    labels |= {r["messages"][-1]["content"][0]["text"] for r in synthetic}
    return labels


def _served_source() -> dict[str, str]:
    out = {}
    for path in sorted(MODELS_SOURCE.glob("*.rs")):
        text = path.read_text(encoding="utf-8")
        cut = text.find("#[cfg(test)]")
        out[path.name] = (text if cut < 0 else text[:cut]).lower()
    return out


def _word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z0-9_]){re.escape(word)}(?![a-z0-9_])", text) is not None


def test_no_label_of_any_data_set_is_written_in_the_models() -> None:
    labels = _labels()
    assert len(labels) >= 20, "the ATIS labels were not found: is NOVA_FT_DATA set?"
    dataset_names = set(datasets.names())
    words = {w for label in labels for w in re.findall(r"[a-z0-9]+", label.lower())}
    words -= dataset_names | set(ORDINARY_WORDS)
    source = _served_source()
    found = [
        f"{file}: {term!r}"
        for file, text in source.items()
        for term in sorted({label.lower() for label in labels} | words)
        if len(term) > 1 and _word(text, term)
    ]
    assert not found, "data-set vocabulary in the local models:\n" + "\n".join(found)


def test_the_check_finds_a_planted_label() -> None:
    # Labels taken from the data, not written here: a whole label and one of its words.
    label = sorted(_labels(), key=len)[-1].lower()
    word = max(re.findall(r"[a-z0-9]+", label), key=len)
    for planted in (label, word):
        text = f'const SYNONYMS: &[&str] = &["{planted}"];'.lower()
        assert _word(text, planted)
    assert not _word("vec.with_capacity(3)", "capacity")
