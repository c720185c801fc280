"""Seeded synthetic news articles with reference highlights, in the shape of CNN/DailyMail
(``article``, ``highlights``), for running AWS's on-demand summarisation sample where its data
set cannot be downloaded. Each article reports one event (who, what, where, a number, a
date) in a lead sentence, adds a quote, background and filler sentences in varying order,
and its highlights restate the event and the number in other words: a summary must read the
article, since no two articles share their facts.

    from news_articles import articles
    rows = articles(seed=0, n=100)  # [{"article": ..., "highlights": ...}, ...]
"""

from __future__ import annotations

import random
from typing import Any

CITIES = [
    "Seattle",
    "Denver",
    "Boston",
    "Austin",
    "Portland",
    "Chicago",
    "Atlanta",
    "Phoenix",
    "Dallas",
    "Miami",
    "Detroit",
    "Nashville",
    "Omaha",
    "Tucson",
    "Raleigh",
    "Memphis",
    "Oakland",
    "Tampa",
    "Cleveland",
    "Richmond",
    "Boise",
    "Spokane",
    "Madison",
    "Reno",
]
FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Daniel",
    "Priya",
    "Tom",
    "Elena",
    "Kwame",
    "Sofia",
    "Liam",
    "Hana",
    "Omar",
    "Grace",
    "Victor",
    "Nadia",
    "Peter",
    "Lucia",
    "Samuel",
    "Mei",
    "Jonas",
]
LAST = [
    "Alvarez",
    "Okafor",
    "Chen",
    "Novak",
    "Patel",
    "Brennan",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Osei",
    "Fischer",
    "Romero",
    "Sato",
    "Iversen",
    "Duarte",
    "Walsh",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# (organisation, action in the past tense, what it concerns, the unit of the number)
EVENTS = [
    ("the city council", "approved", "a plan to rebuild the harbor bridge", "million dollars"),
    ("the school board", "voted to close", "two elementary schools", "students"),
    ("the state health department", "reported", "an outbreak of measles", "cases"),
    ("the transit authority", "announced", "a new light rail line", "miles of track"),
    ("the fire department", "contained", "a wildfire north of the city", "acres"),
    ("a local hospital", "opened", "a children's cancer ward", "beds"),
    ("the police department", "arrested", "members of a car theft ring", "stolen cars"),
    ("the university", "received", "a donation for climate research", "million dollars"),
    ("the football club", "signed", "a new head coach", "million dollars a year"),
    ("the water utility", "issued", "a boil-water notice", "households"),
    ("a tech company", "laid off", "workers at its regional office", "employees"),
    ("the museum", "recovered", "paintings stolen in the 1990s", "paintings"),
    ("the airport", "cancelled", "flights after a snowstorm", "flights"),
    ("the county court", "blocked", "a new zoning law", "homes affected"),
    ("the zoo", "welcomed", "a pair of rare snow leopard cubs", "visitors on the first day"),
    ("the city's marathon", "raised", "money for homeless shelters", "thousand dollars"),
]
QUOTES = [
    "This is a day many people here have waited a long time for",
    "We will keep working until everyone affected gets the help they need",
    "Nobody expected it to happen this quickly",
    "It is the right decision for the families who live here",
    "We learned a great deal, and we will do better next time",
    "The numbers speak for themselves",
]
FILLER = [
    "Officials said more details would be released in the coming weeks.",
    "The decision drew both praise and criticism at a crowded public meeting.",
    "Local businesses said they were watching the situation closely.",
    "Residents had raised concerns about the issue for several years.",
    "A spokesperson declined to comment on the cost of the delay.",
    "Similar measures have been tried in other cities with mixed results.",
    "Neighbors gathered outside to follow the news on their phones.",
    "The weather was cold and windy for most of the week.",
    "Volunteers handed out water and blankets near the site.",
    "A follow-up meeting has been scheduled for next month.",
]


def _article(rng: random.Random) -> dict[str, str]:
    city = rng.choice(CITIES)
    org, action, what, unit = rng.choice(EVENTS)
    number = rng.choice([rng.randint(3, 40), rng.randint(41, 900), rng.randint(901, 9000)])
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    role = rng.choice(["a spokesperson", "the director", "the chair", "a senior official"])
    day = f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"
    lead = (
        f"{org[0].upper()}{org[1:]} in {city} {action} {what} on {day}, "
        f"a move involving {number} {unit}."
    )
    quote = f'"{rng.choice(QUOTES)}," said {person}, {role} of {org}.'
    background = (
        f"The issue had been debated in {city} since last year, when {org} first "
        f"took up {what.split(' ', 1)[1] if ' ' in what else what}."
    )
    body = [quote, background, *rng.sample(FILLER, rng.randint(3, 6))]
    rng.shuffle(body)
    article = " ".join([lead, *body])
    highlights = "\n".join(
        [
            f"{org[0].upper()}{org[1:]} in {city} {action} {what}.",
            f"The move involves {number} {unit}, {person} said.",
        ]
    )
    return {"article": article, "highlights": highlights}


def articles(seed: int, n: int) -> list[dict[str, str]]:
    """``n`` articles with their highlights, the same for the same seed."""
    rng = random.Random(seed)
    return [_article(rng) for _ in range(n)]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lowercased word tokens (longest common subsequence)."""
    a = "".join(c.lower() if c.isalnum() else " " for c in candidate).split()
    b = "".join(c.lower() if c.isalnum() else " " for c in reference).split()
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
        prev = row
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


#: The system prompt of AWS's on-demand summarisation sample.
SUMMARY_SYSTEM = (
    "You are a helpful assistant that summarizes news articles accurately and concisely."
)


def convert_to_nova_micro_format(data_point: dict[str, str]) -> dict[str, Any]:
    """The sample's conversion of a CNN/DailyMail row to a training record, as written."""
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SUMMARY_SYSTEM}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": f"Summarize the following news article:\n\n{data_point['article']}"}
                ],
            },
            {"role": "assistant", "content": [{"text": data_point["highlights"]}]},
        ],
    }
