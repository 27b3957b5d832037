#!/usr/bin/env python3
"""Builds Reference/districts.csv and Reference/municipalities.csv, the geography Spona ships.

Run once when the source lists change; the outputs are committed and are the project's own
data from then on. Codes, once given, never change: a new municipality gets a new code, a
renamed one keeps its old one (edit the CSV by hand then, not this script).

Sources (facts from public knowledge, as collected in the project's reference folder):
  serbia-municipalities.csv      districts' cities, municipalities, city municipalities (Latin)
  serbia-districts-iso3166-2.csv the ISO 3166-2:RS district codes, Latin and Cyrillic
  places-2025.csv                the 110 places of the 2025 report, with their Cyrillic names

Usage: build-geography.py SHARED_REFERENCE_DIR OUTPUT_DIR
"""
import csv
import sys
import unicodedata

src, out = sys.argv[1], sys.argv[2]

DIGRAPHS = {"Lj": "Љ", "LJ": "Љ", "lj": "љ", "Nj": "Њ", "NJ": "Њ", "nj": "њ", "Dž": "Џ", "DŽ": "Џ", "dž": "џ"}
LETTERS = dict(zip(
    "ABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠabvgdđežzijklmnoprstćufhcčš",
    "АБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШабвгдђежзијклмнопрстћуфхцчш"))

def cyrillic(latin):
    result, i = [], 0
    while i < len(latin):
        pair = latin[i:i + 2]
        if pair in DIGRAPHS:
            result.append(DIGRAPHS[pair]); i += 2
        else:
            result.append(LETTERS.get(latin[i], latin[i])); i += 1
    return "".join(result)

def slug(latin):
    text = latin.replace("Đ", "Dj").replace("đ", "dj")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(text.lower().replace("-", " ").split())

iso = {}
with open(f"{src}/serbia-districts-iso3166-2.csv", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        if row["type"] in ("District", "City") and not row["parent_iso_3166_2"] == "RS-KM":
            short = row["name_lat"].replace(" okrug", "")
            iso["Grad Beograd" if short == "Beograd" else short] = row

# Cyrillic names as the report writes them win over transliteration.
report_cyrillic = {}
with open(f"{src}/places-2025.csv", encoding="utf-8") as f:
    places = list(csv.DictReader(f))
    for row in places:
        report_cyrillic[(row["name_lat"], row["parent_municipality_lat"] if row["kind"] == "city_municipality" else "")] = row["name_cyr"]

with open(f"{out}/districts.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["code", "name_lat", "name_cyr"])
    for short, row in sorted(iso.items(), key=lambda kv: kv[1]["iso_3166_2"]):
        name_lat = "Grad Beograd" if row["iso_3166_2"] == "RS-00" else row["name_lat"].replace(" okrug", " upravni okrug")
        name_cyr = "Град Београд" if row["iso_3166_2"] == "RS-00" else row["name_cyr"].replace(" округ", " управни округ")
        w.writerow([row["iso_3166_2"], name_lat, name_cyr])

rows = []
codes = set()
with open(f"{src}/serbia-municipalities.csv", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        district = iso[row["district_lat"]]["iso_3166_2"]
        parent = row["parent_city_lat"]
        code = slug(f"{parent} {row['name_lat']}") if parent else slug(row["name_lat"])
        assert code not in codes, code
        codes.add(code)
        name_cyr = report_cyrillic.get((row["name_lat"], parent)) or cyrillic(row["name_lat"])
        rows.append([code, district, row["kind"], row["name_lat"], name_cyr, slug(parent) if parent else ""])

with open(f"{out}/municipalities.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["code", "district", "kind", "name_lat", "name_cyr", "parent"])
    w.writerows(rows)

# Settlements and other names people write for a place that is not itself a municipality.
with open(f"{out}/place-aliases.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["alias_lat", "alias_cyr", "municipality", "note"])
    w.writerow(["Sremska Kamenica", "Сремска Каменица", "novi-sad", "settlement of the City of Novi Sad"])

mismatches = [(r[3], r[4], cyrillic(r[3])) for r in rows if r[4] != cyrillic(r[3])]
for m in mismatches:
    print("report's Cyrillic differs from transliteration:", m, file=sys.stderr)
print(f"{len(iso)} districts, {len(rows)} municipalities", file=sys.stderr)
