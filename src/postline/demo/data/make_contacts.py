"""Writes ``contacts.csv``: the demo's synthetic profiles, from a fixed seed.

Run it after changing it (``python src/postline/demo/data/make_contacts.py``)
and commit both files; a test checks that the CSV is what this script writes.

Every address is on a reserved example domain (RFC 2606) and every phone
number in a range kept for fiction (Ofcom's 07700 900xxx, the North American
555-01xx). The demo's SMTP sink answers by a tag in the local part: ``+hard``
(550 5.1.1), ``+soft`` (451, then 250) and ``+spam`` (554). A few rows are
wrong on purpose, one per kind of mistake, so the import shows its report.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20260501
PROFILES = 2000
COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "status",
    "city",
    "plan",
    "recent_items",
]
TAGS = {"hard": 40, "soft": 40, "spam": 20}
STATUSES = {
    "subscribed": 1800,
    "unsubscribed": 110,
    "unconfirmed": 50,
    "complained": 20,
    "suspended": 20,
}
PLANS = {"free": 60, "pro": 30, "business": 10}
DOMAINS = {
    "example.com": 32,
    "example.net": 20,
    "example.org": 16,
    "mail.example.com": 14,
    "post.example.net": 10,
    "inbox.example.org": 8,
}
PATH = Path(__file__).with_name("contacts.csv")


@dataclass(frozen=True)
class Culture:
    """Names and cities that go together, so profiles read as plausible."""

    first: tuple[str, ...]
    last: tuple[str, ...]
    cities: tuple[str, ...]
    weight: int


CULTURES = (
    Culture(
        ("Oliver", "Emma", "Liam", "Siobhán", "Amelia", "Jack", "Niamh", "Harry"),
        ("Smith", "Jones", "O'Brien", "Murphy", "Taylor", "Walsh", "Kelly", "Brown"),
        ("London", "Dublin", "Manchester", "Cork", "Toronto", "Chicago", "Leeds"),
        22,
    ),
    Culture(
        ("José", "María", "Lucía", "Alejandro", "Sofía", "Javier", "Ángel", "Nuria"),
        ("García", "Fernández", "López", "Martínez", "Núñez", "Ibáñez", "Ruiz"),
        ("Madrid", "Sevilla", "Valencia", "Málaga", "Bogotá", "Ciudad de México"),
        12,
    ),
    Culture(
        ("João", "Inês", "Beatriz", "Gonçalo", "Mariana", "Tiago", "Leonor"),
        ("Silva", "Santos", "Ferreira", "Gonçalves", "Araújo", "Conceição"),
        ("Lisboa", "Porto", "São Paulo", "Curitiba", "Coimbra"),
        8,
    ),
    Culture(
        ("Zoë", "Chloé", "Théo", "Léa", "François", "Hélène", "Noémie", "Amélie"),
        ("Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Lemaître"),
        ("Paris", "Lyon", "Montréal", "Genève", "Bruxelles", "Nantes"),
        10,
    ),
    Culture(
        ("Jürgen", "Anna", "Lukas", "Mia", "Jörg", "Hannah", "Felix", "Lena"),
        ("Müller", "Schmidt", "Schäfer", "Weiß", "Becker", "Krüger", "Hoffmann"),
        ("München", "Köln", "Hamburg", "Zürich", "Wien", "Leipzig"),
        10,
    ),
    Culture(
        ("Łukasz", "Małgorzata", "Agnieszka", "Paweł", "Zofia", "Michał", "Kasia"),
        ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Zieliński", "Dąbrowska"),
        ("Kraków", "Warszawa", "Gdańsk", "Łódź", "Wrocław", "Poznań"),
        8,
    ),
    Culture(
        ("Søren", "Åsa", "Björn", "Ingrid", "Håkon", "Sigríður", "Freja", "Mikael"),
        ("Jørgensen", "Lindqvist", "Ødegaard", "Andersson", "Halvorsen", "Berg"),
        ("København", "Stockholm", "Oslo", "Reykjavík", "Göteborg", "Aarhus"),
        7,
    ),
    Culture(
        ("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Niccolò", "Matteo"),
        ("Rossi", "Russo", "Esposito", "Bianchi", "Romano", "Galli", "Conti"),
        ("Milano", "Roma", "Torino", "Napoli", "Bologna", "Firenze"),
        7,
    ),
    Culture(
        ("Ayşe", "Mehmet", "Elif", "Çağan", "Zeynep", "İlkay", "Emre"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Öztürk", "Çelik", "Aydın"),  # noqa: RUF001
        ("İstanbul", "Ankara", "İzmir", "Bursa"),
        5,
    ),
    Culture(
        ("Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Funmilayo", "Tunde"),
        ("Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu"),
        ("Lagos", "Abuja", "Ibadan", "Enugu"),
        4,
    ),
    Culture(
        ("Priya", "Arjun", "Ananya", "Rohan", "Kavya", "Vikram", "Meera"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Nair", "Menon", "Gupta"),
        ("Bengaluru", "Mumbai", "Pune", "Chennai", "Hyderabad"),
        5,
    ),
    Culture(
        ("Minh", "Linh", "Thảo", "Huy", "Anh", "Quỳnh"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Vũ", "Đặng"),
        ("Hà Nội", "Đà Nẵng", "Huế"),
        2,
    ),
)

PRODUCTS = (
    "Merino Beanie",
    "Trail Running Shoes",
    "Pour-Over Kettle",
    "Linen Shirt",
    "Canvas Tote",
    "Ceramic Mug Set",
    "Wool Throw",
    "Brass Desk Lamp",
    "Bamboo Cutting Board",
    "Espresso Cups, set of 4",
    "Rain Jacket",
    "Leather Card Holder",
    "Cast Iron Skillet",
    "Dotted Notebook A5",
    "Cork Yoga Mat",
    "Steel Water Bottle 750 ml",
    "Hiking Socks, 3-pack",
    "Oak Serving Tray",
    "Linen Napkins",
    "Wireless Reading Light",
    "Herb Garden Kit",
    "Travel Backpack 28 L",
    "Stoneware Bowls",
    "Café Blend Coffee Beans",
)

# Letters that Unicode does not decompose into an ASCII base letter.
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ð": "d"}
    | {"đ": "d", "Đ": "D", "\u0131": "i", "'": ""}
)


@dataclass
class DemoContacts:
    """The rows of the file, and what the import is expected to make of them."""

    rows: list[list[str]] = field(default_factory=list)
    profiles: int = 0
    rejected: int = 0
    tagged: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        """The CSV text, header first, with \\n line ends."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(self.rows)
        return out.getvalue()


def build(seed: int = SEED) -> DemoContacts:
    """The demo's contacts; the same seed always gives the same rows."""
    rng = random.Random(seed)
    statuses = _spread(rng, STATUSES)
    tags = _tags(rng, statuses)
    seen: set[str] = set()
    rows = [
        _profile(rng, seen, status, tags.get(i)) for i, status in enumerate(statuses)
    ]

    bad = _bad_rows(rng, rows)
    for position, row in sorted(bad, key=lambda pair: pair[0], reverse=True):
        rows.insert(position, row)
    return DemoContacts(rows, PROFILES, len(bad), dict(TAGS))


def write(path: Path = PATH, seed: int = SEED) -> DemoContacts:
    """Write the contacts file; returns what was written."""
    demo = build(seed)
    path.write_text(demo.render(), encoding="utf-8")
    return demo


def _spread(rng: random.Random, counts: dict[str, int]) -> list[str]:
    values = [value for value, count in counts.items() for _ in range(count)]
    rng.shuffle(values)
    return values


def _tags(rng: random.Random, statuses: list[str]) -> dict[int, str]:
    """Which subscribed rows carry a sink tag, by row index."""
    subscribed = [i for i, status in enumerate(statuses) if status == "subscribed"]
    chosen = rng.sample(subscribed, sum(TAGS.values()))
    kinds = [kind for kind, count in TAGS.items() for _ in range(count)]
    return dict(zip(chosen, kinds, strict=True))


def _profile(
    rng: random.Random, seen: set[str], status: str, tag: str | None
) -> list[str]:
    culture = rng.choices(CULTURES, weights=[c.weight for c in CULTURES])[0]
    first, last = rng.choice(culture.first), rng.choice(culture.last)
    return [
        _address(rng, seen, first, last, tag),
        first,
        last,
        _phone(rng) if rng.random() < 0.65 else "",
        status,
        rng.choice(culture.cities),
        rng.choices(list(PLANS), weights=list(PLANS.values()))[0],
        ";".join(rng.sample(PRODUCTS, rng.choice((0, 1, 1, 2, 2, 3, 3, 4)))),
    ]


def _address(
    rng: random.Random, seen: set[str], first: str, last: str, tag: str | None
) -> str:
    f, la = _ascii(first), _ascii(last)
    local = rng.choice(
        (
            f"{f}.{la}",
            f"{f}{la}",
            f"{f[0]}{la}",
            f"{f}_{la}",
            f"{f}.{la}{rng.randint(1, 99)}",
        )
    )
    domain = rng.choices(list(DOMAINS), weights=list(DOMAINS.values()))[0]
    while f"{local}@{domain}" in seen:
        local = f"{f}.{la}{rng.randint(100, 999)}"
    seen.add(f"{local}@{domain}")

    # Some people type their address capitalised; matching ignores case.
    if rng.random() < 0.03:
        local = ".".join(part.capitalize() for part in local.split("."))
    return f"{local}+{tag}@{domain}" if tag else f"{local}@{domain}"


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).lower()


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"+44 7700 900{rng.randint(0, 999):03d}"
    area = rng.choice(("212", "312", "415", "503", "617", "720"))
    return f"+1 {area}-555-01{rng.randint(0, 99):02d}"


def _bad_rows(rng: random.Random, rows: list[list[str]]) -> list[tuple[int, list[str]]]:
    """Rows the import must reject, one per kind of mistake, with their positions.

    Their addresses use names outside the pools above, so none of them can
    collide with a good row's address and turn into a duplicate instead.
    """

    def row(email: str, first: str, last: str, **cells: str) -> list[str]:
        base = {"status": "subscribed", "city": "Leeds", "plan": "free"}
        values = base | {"email": email, "first_name": first, "last_name": last}
        return [(values | cells).get(name, "") for name in COLUMNS]

    typed = [
        row("dana.whitfield.example.com", "Dana", "Whitfield"),
        row("renee@home@example.org", "Renée", "Lacroix"),
        row("marek holub@example.net", "Marek", "Holub"),
        row("tomas@example", "Tomás", "Herrera"),
        row("ida.@example.org", "Ida", "Strand"),
        row("", "Yusuf", "Arslan", phone="+44 7700 900555"),
        row("greta.lind@example.com", "Greta", "Lind", status="active"),
        row("kwame.mensah@example.net", "Kwame", "Mensah", phone="call after 6"),
        row("hugo.perrin@example.com", "Hugo", "Perrin")[:5],
    ]

    # An unquoted comma in the city splits it into two cells.
    split = row("nils.dahl@example.org", "Nils", "Dahl", plan="pro")
    split[5:6] = ["Washington", " D.C."]
    typed.append(split)
    positions = [rng.randrange(60, len(rows)) for _ in typed]

    # Duplicates: an exact copy, and a copy whose address differs only in case.
    first, second = rows[40], rows[700]
    duplicates = [list(first), [second[0].upper(), *second[1:]]]
    return list(zip([*positions, 900, 1400], [*typed, *duplicates], strict=True))


if __name__ == "__main__":
    written = write()
    print(f"{PATH}: {written.profiles} profiles, {written.rejected} rejected rows")
