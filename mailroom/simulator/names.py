"""Name, street and city pools for simulated people (a few non-ASCII on purpose)."""

from __future__ import annotations

import unicodedata

import numpy as np

FIRST_NAMES = (
    "Ana", "João", "Maria", "Pedro", "Inês", "Lukas", "Anna", "Jonas", "Lea", "Felix",
    "Sophie", "Paul", "Emma", "Louis", "Chloé", "Hugo", "Léa", "Lucas", "Camille",
    "Jules", "Lucía", "Pablo", "Carmen", "Javier", "Sofía", "Daan", "Sanne", "Bram",
    "Femke", "Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo", "Noah",
    "Mila", "Liam", "Saoirse", "Conor", "Aoife", "Piotr", "Zofia", "Jakub", "Zuzanna",
    "Elena", "David", "Laura", "Tom", "Nina", "Max", "Julia", "Ben", "Clara", "Leon",
    "Marie", "Finn", "Ida", "Oskar", "Frida", "Nils", "Greta", "Elias", "Rosa",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Santos", "Ferreira", "Costa", "Oliveira", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Becker", "Martin", "Bernard", "Dubois",
    "Lefèvre", "Moreau", "Laurent", "García", "Fernández", "López", "Martínez",
    "Sánchez", "de Jong", "Jansen", "de Vries", "Bakker", "Visser", "Rossi", "Russo",
    "Ferrari", "Esposito", "Bianchi", "Romano", "Peeters", "Janssens", "Maes",
    "Gruber", "Huber", "Bauer", "Murphy", "Kelly", "O'Brien", "Walsh", "Nowak",
    "Kowalski", "Wiśniewski", "Wójcik", "Hoffmann", "Koch", "Richter", "Klein",
    "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann", "Krüger", "Hartmann",
    "Lange", "Werner", "Lehmann", "Köhler", "Roux", "Fontaine",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Rue de la Paix", "Calle Mayor", "Rua Augusta", "Kerkstraat",
    "Via Roma", "Bahnhofstraße", "Main Street", "Ulica Długa", "Stationsstraat",
)  # fmt: skip
CITIES = {
    "DE": ("Berlin", "München", "Hamburg", "Köln"),
    "FR": ("Paris", "Lyon", "Marseille", "Toulouse"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Sevilla"),
    "PT": ("Lisboa", "Porto", "Braga", "Coimbra"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"),
    "IT": ("Roma", "Milano", "Torino", "Napoli"),
    "BE": ("Bruxelles", "Antwerpen", "Gent", "Liège"),
    "AT": ("Wien", "Graz", "Linz", "Salzburg"),
    "IE": ("Dublin", "Cork", "Galway", "Limerick"),
    "PL": ("Warszawa", "Kraków", "Gdańsk", "Wrocław"),
}
PHONE_PREFIX = {
    "DE": "49", "FR": "33", "ES": "34", "PT": "351", "NL": "31",
    "IT": "39", "BE": "32", "AT": "43", "IE": "353", "PL": "48",
}  # fmt: skip
EMAIL_DOMAINS = ("example.com", "mail.example.com", "inbox.example.org", "example.net")


def ascii_slug(name: str) -> str:
    """Lower-case ASCII form of a name, fit for an email local part."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


FIRST_ARRAY = np.array(FIRST_NAMES, dtype=object)
LAST_ARRAY = np.array(LAST_NAMES, dtype=object)
FIRST_SLUGS = np.array([ascii_slug(n) for n in FIRST_NAMES], dtype=object)
LAST_SLUGS = np.array([ascii_slug(n) for n in LAST_NAMES], dtype=object)
