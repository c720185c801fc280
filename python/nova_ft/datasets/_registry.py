"""What each data set is, where it comes from, and under which terms."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """One upstream file: its URL at a pinned commit, and the SHA-256 it must have."""

    url: str
    sha256: str


@dataclass(frozen=True)
class DatasetInfo:
    """A data set's facts: task, splits and their sizes, source, licence, citation, quirks.

    ``shipped`` data is inside the wheel (its licence allows it); the rest is downloaded from
    ``sources`` on first use, checked against the pinned checksums, and cached.
    """

    name: str
    task: str
    splits: dict[str, int]
    fields: tuple[str, ...]
    source: str
    licence: str
    citation: str
    quirks: tuple[str, ...]
    shipped: bool
    sources: dict[str, Source] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {v:,}" for k, v in self.splits.items())
        where = "shipped" if self.shipped else "downloaded on first use"
        return f"DatasetInfo({self.name!r}, {self.task}, {sizes}; {where})"


_MIULAB = "https://raw.githubusercontent.com/MiuLab/SlotGated-SLU/61f0307c729b1fad479ef1de94aa5ac5dee601b0/data/atis"
_TEXT2SQL = "https://raw.githubusercontent.com/jkkummerfeld/text2sql-data/5050bad2309a93636ea4788d3660c9202bf11e0e/data"

ATIS = DatasetInfo(
    name="atis",
    task="intent",
    splits={"train": 4478, "valid": 500, "test": 893},
    fields=("text", "intent"),
    source="MiuLab/SlotGated-SLU @ 61f0307 (data/atis/<split>/seq.in + label), the standard "
    "4,978 / 893 ATIS split with 500 rows of the 4,978 held out as valid",
    licence="No licence is granted by the repository; the ATIS corpus comes from the LDC. "
    "Research benchmark data: not shipped with nova_ft, downloaded from its public home.",
    citation="Goo et al., NAACL 2018 (Slot-Gated SLU); Hemphill et al. 1990; Dahl et al. 1994.",
    quirks=(
        "multi-intent labels join intents with '#' (atis_flight#atis_airfare), kept verbatim",
        "atis_flight is 73.9% of train and 70.8% of test: a majority baseline scores 70.8%",
        "5 test rows have labels never seen in train; 13 test rows repeat train texts",
        "lowercase, no punctuation but apostrophes and abbreviation periods",
    ),
    shipped=False,
    sources={
        f"{split}/{part}": Source(f"{_MIULAB}/{split}/{part}", sha)
        for (split, part), sha in {
            ("train", "seq.in"): "3a670980841b21ab39088b2595efc17d487cdc45769c075a3e5f9458bba28c7f",
            ("train", "label"): "d0a771547665eecbdf9f96ea015ef07d1f6ee9f063e861020dafabb3c2a04377",
            ("valid", "seq.in"): "c7435b96e7948393608c34819628e863c5338f11ca68e8f896d2cc041d8e17f8",
            ("valid", "label"): "06957cfe6fdffac84f8280bc3a1f8ca85c85631b363817aa4543aac611f8addf",
            ("test", "seq.in"): "4b2119fc59c37f9398c6605db435d4f467505009e6ee3e5af04fed09f39dc397",
            ("test", "label"): "ce4bfe6590d9498e1078f30b4137d3e8b3e94277b444b26360c0bf2e9e282761",
        }.items()
    },
)

GEOQUERY = DatasetInfo(
    name="geoquery",
    task="sql",
    splits={"train": 549, "valid": 49, "test": 279},
    fields=(
        "question",
        "context",
        "sql",
        "sql_original",
        "db_id",
        "query_split",
        "query_id",
        "gold_executes_in_sqlite",
        "gold_num_rows",
    ),
    source="jkkummerfeld/text2sql-data @ 5050bad (data/geography.json and "
    "data/geography-db.added-in-2020.sqlite), the question split; each sentence's variables "
    "filled into its question and its entry's first SQL, double-quoted literals made single",
    licence="data/geography* is not covered by the repository's licence table: research "
    "benchmark data, not shipped with nova_ft, downloaded from its public home.",
    citation="Finegan-Dollak et al., ACL 2018; Zelle & Mooney 1996; Iyer et al. 2017.",
    quirks=(
        "5 gold queries fail in SQLite (gold_executes_in_sqlite is false): keep them out of "
        "execution-accuracy denominators",
        "28 gold queries return no rows: a wrong query that returns nothing would match",
        "216 of 279 test rows share a SQL template (query_id) with train; filter on "
        "query_split == 'test' for a template-disjoint test",
        "verbose canonical SQL (UPPERCASE names, aliases like CITYalias0): score by execution",
    ),
    shipped=False,
    sources={
        "geography.json": Source(
            f"{_TEXT2SQL}/geography.json",
            "b20ad8ed357029c9efa49aa64434729f624591850f66b1137cabcc0e45273c1b",
        ),
        "geography.sqlite": Source(
            f"{_TEXT2SQL}/geography-db.added-in-2020.sqlite",
            "98955372123cd9a8e761b00c2c67fbf221f1b8699927add538b53154c702dd3c",
        ),
    },
)

SQL_CREATE_CONTEXT = DatasetInfo(
    name="sql_create_context",
    task="sql",
    splits={"train": 3134, "valid": 411, "test": 455},
    fields=(
        "question",
        "context",
        "sql",
        "db_id_inferred",
        "spider_split",
        "source_row",
        "sql_runs_on_context_schema",
    ),
    source="the first 4,000 rows of b-mc2/sql-create-context (via modal-labs/llm-finetuning @ "
    "9e97704), split by (inferred) Spider database: no database in two splits",
    licence="CC BY 4.0 (the underlying Spider data CC BY-SA 4.0): shipped with nova_ft with "
    "its attribution (nova_ft/_data/sql_create_context/ATTRIBUTION.md)",
    citation="b-mc2 (2023), sql-create-context; Zhong et al. 2017 (WikiSQL); Yu et al. 2018 "
    "(Spider).",
    quirks=(
        "db_id_inferred is heuristic (15 rows conflict with their best schema match)",
        "not every gold query runs on its context schema (sql_runs_on_context_schema)",
        "test holds Spider's dev databases concert_singer and pets_1 (41 rows)",
    ),
    shipped=True,
)

REGISTRY: dict[str, DatasetInfo] = {d.name: d for d in (ATIS, GEOQUERY, SQL_CREATE_CONTEXT)}
