#!/usr/bin/env python3
"""Generate realistic synthetic Herald customers as NDJSON for bulk import.

Each line is herald.v1.Customer in protobuf's JSON mapping. Customer number n
(id C-%07d) is a pure function of (--seed, n), so `--start K --count N` yields
exactly lines K+1..K+N of a larger run with the same seed: big imports can be
generated in parallel chunks. The grid (ZIPs, feeders, transformers, streets)
depends only on --utility-center, so chunks and seeds share one coherent grid.

Premise ids are P-%08d = n*10 + j (j = 0..2), transformers T-%06d serve the
primary premises of 8..15 consecutive customers (plus a few landlords'
premises), feeders F-%04d are clustered in ZIP areas with skewed sizes.

--bad-every K replaces every K-th output line with an invalid one, rotating
through BAD_KINDS, for import tests.
"""

import argparse
import bisect
import itertools
import json
import _random
import random
import re
import sys

MAX_CUSTOMER = 9_999_999
GRID_SEED = 0x4E5244  # fixed: the grid must not change with --seed
FEEDERS = 200
BLOCK_SIZES = tuple(range(8, 16))  # customers per transformer in one super-block
BLOCK_CUSTOMERS = sum(BLOCK_SIZES)
DEFAULT_CENTER = (40.75, -73.99)
MAX_OFFSET = 0.3
PREMISE_JITTER = 0.0006

BAD_KINDS = ("phone", "email", "unknown_field", "wrong_type", "time_zone",
             "quiet_hours", "broken_json")

FIRST_EN = """James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth
David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher
Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven
Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon
Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley
Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen
Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel
Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane
Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria
Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter Evelyn Noah Judith
Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline Gerald
Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence
Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Judy
Bruce Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan Marilyn Juan
Danielle Wayne Beverly Elijah Isabella Randy Theresa Roy Diana Vincent Natalie Ralph
Brittany Eugene Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori Louis
Ada Grace Alan Margaret Edsger Barbara Dennis Frances Ken Radia""".split()

LAST_EN = """Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor
Thomas Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young
Allen King Wright Scott Hill Green Adams Nelson Baker Hall Campbell Mitchell Carter
Roberts Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook
Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Cox Ward Richardson Watson
Brooks Wood James Bennett Gray Hughes Price Sanders Myers Long Ross Foster Powell
Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher
Henderson Graham Wallace Hamilton Cole West Jordan Reynolds Marshall Ellis Murray
Ford Wells Webb Simpson Stevens Tucker Porter Hunter Hicks Crawford Boyd Mason
Warren Dixon Burns Gordon Shaw Holmes Rice Robertson Hunt Black Daniels Palmer
Mills Nichols Grant Knight Ferguson Stone Hawkins Dunn Perkins Hudson Spencer
Gardner Stephens Payne Pierce Berry Matthews Arnold Wagner Willis Ray Watkins Olson
Carroll Duncan Snyder Hart Cunningham Bradley Lane Andrews Harper Fox Riley
Armstrong Carpenter Weaver Greene Lawrence Elliott Chavez Sims Austin Peters Kelley
Franklin Lawson Fields Ryan Schmidt Carr Castillo Wheeler Chapman Oliver
Montgomery Richards Williamson Johnston Banks Meyer Bishop McCoy Howell Morrison
Hansen Harrison Lovelace Hopper Turing Dijkstra Liskov Thompson Ritchie Perlman
O'Brien O'Connor O'Neill D'Angelo""".split()

FIRST_ES = """José María Juan Ana Luis Carmen Carlos Rosa Jorge Isabel Miguel Lucía
Pedro Elena Manuel Laura Francisco Marta Javier Cristina Antonio Patricia Alejandro
Sofía Fernando Valentina Ricardo Camila Rafael Daniela Eduardo Gabriela Andrés
Mariana Diego Paula Sergio Andrea Raúl Natalia Alberto Verónica Roberto Adriana
Héctor Beatriz Óscar Claudia Arturo Silvia Enrique Teresa Ramón Lorena Víctor
Mónica Pablo Alejandra Guillermo Julia Emilio Irene Rubén Pilar Ignacio Raquel
Mateo Ximena Santiago Guadalupe Nicolás Yolanda Tomás Esperanza Joaquín Dolores
Martín Inés Gustavo Rocío Hugo Noemí Julio Marisol Ángel Milagros Iván Araceli
Gonzalo Nayeli Agustín Luz Felipe Socorro Esteban Maribel Marco Yesenia""".split()

LAST_ES = """García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez
Torres Flores Rivera Gómez Díaz Reyes Cruz Morales Ortiz Gutiérrez Chávez Ramos
Ruiz Álvarez Mendoza Vásquez Castillo Jiménez Moreno Romero Herrera Medina Aguilar
Vargas Castro Guzmán Fernández Juárez Muñoz Salazar Rojas Delgado Ortega Soto
Contreras Silva Domínguez Sandoval Guerrero Estrada Núñez Vega Cabrera Figueroa
Marín Peña Navarro Campos Carrillo Ibarra Maldonado Acosta Cortés Santiago Lara
Ríos Molina Espinoza Valdez Suárez Fuentes Rosario Colón Quiñones Meléndez
Velázquez Santos Acevedo Pagán Ayala Cordero Serrano Padilla Benítez Montes""".split()

STREETS_EN = """Elm Oak Maple Pine Cedar Birch Walnut Chestnut Spruce Willow Main Park
Washington Lincoln Jefferson Madison Franklin Jackson Church Mill Spring Lake Hill
River Prospect Union Grove Highland Sunset Ridge Forest Center Cherry Bleecker
Hudson Greene Mercer Bedford Berry Court Clinton Henry Hicks Pacific Dean Bergen
Atlantic Fulton Myrtle Kent Wythe Lorimer Graham Manhattan Nassau Orchard Ludlow
Essex Clinton Pitt Delancey Rivington Stanton Houston Grand Broome Spring Vandam
Charlton King Jane Perry Charles Bank Horatio Gansevoort Barrow Morton Leroy
Commerce Grove Christopher Waverly Irving Gramercy Lexington Audubon Amsterdam
Columbus Riverside Claremont Convent Edgecombe Bradhurst Lenox Malcolm Dyckman
Sherman Nagle Seaman Payson Cooper Isham""".split()
SUFFIXES_EN = ("St", "St", "St", "Ave", "Ave", "Pl", "Rd", "Blvd", "Ln", "Ct")
STREETS_ES = """Sol Luna Mar Flores Rosa Paz Esperanza Libertad Victoria Estrella
Palma Olivo Naranjo Sevilla Toledo Granada Córdoba Valencia Alameda Cervantes
Bolívar Martí Hostos Betances Duarte Juárez Hidalgo Morelos Colón Loíza""".split()
PREFIXES_ES = ("Calle", "Calle", "Calle", "Avenida", "Paseo", "Camino")

AREA_CODES = ("212", "646", "332", "718", "347", "929", "917", "516", "631",
              "914", "201", "551", "973", "862", "908", "732", "848")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
OTHER_ZONES = ("America/Chicago", "America/Denver", "America/Los_Angeles",
               "America/Phoenix", "America/Puerto_Rico")
QUIET_HOURS = (("21:00", "07:00"), ("22:00", "06:30"), ("23:00", "08:00"),
               ("22:00", "07:00"), ("21:30", "07:30"), ("20:00", "08:00"))
CADENCES = ("MILESTONES",) * 5 + ("EVERY_UPDATE",) * 3 + ("RESTORATION_ONLY",) * 2

ASCII_FOLD = str.maketrans("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunAEIOUUN", "' ")


def exchange_ok(x):
    """NANP central office codes: 200-999, no N11, no 555 (fictional)."""
    return 200 <= x <= 999 and x % 100 != 11 and x != 555


PHONE_PREFIXES = tuple(f"{a}{x:03d}" for a in AREA_CODES for x in range(200, 1000)
                       if exchange_ok(x))


def _name_pool(firsts, lasts):
    """Pre-escaped JSON names plus their email local parts."""
    out = []
    for first in dict.fromkeys(firsts):
        for last in dict.fromkeys(lasts):
            local = f"{first}.{last}".translate(ASCII_FOLD).lower()
            out.append((json.dumps(f"{first} {last}", ensure_ascii=False), local))
    return out


NAMES_EN = _name_pool(FIRST_EN, LAST_EN)
NAMES_ES = _name_pool(FIRST_ES, LAST_ES)
NAMES_MIXED = _name_pool(FIRST_EN, LAST_ES) + _name_pool(FIRST_ES, LAST_EN)


def _zip_offsets():
    """ZIP centres as offsets from the default centre, roughly NYC-shaped."""
    rng = random.Random(GRID_SEED)
    zips = []
    for i in range(40):  # Manhattan 100xx runs roughly south to north
        t = i / 39.0
        lat = 40.705 + 0.16 * t + rng.gauss(0, 0.006)
        lon = -74.010 + 0.085 * t + rng.gauss(0, 0.006)
        zips.append((f"{10001 + i}", lat, lon))
    for i in range(20):  # Brooklyn 112xx scattered south-east of the river
        lat = rng.uniform(40.615, 40.700)
        lon = rng.uniform(-74.020, -73.900)
        zips.append((f"{11201 + i}", lat, lon))
    return [(z, lat - DEFAULT_CENTER[0], lon - DEFAULT_CENTER[1]) for z, lat, lon in zips]


class Grid:
    """ZIPs, feeders and transformers; depends only on the utility centre."""

    def __init__(self, center):
        self.center = center
        rng = random.Random(GRID_SEED)
        zips = [(z, center[0] + dlat, center[1] + dlon) for z, dlat, dlon in _zip_offsets()]
        zip_weight = [rng.uniform(0.5, 2.0) for _ in zips]
        homes = list(range(len(zips))) + rng.choices(
            range(len(zips)), weights=zip_weight, k=FEEDERS - len(zips))
        self.feeders = []  # (id, zip, lat, lon)
        weights = []
        for f, z in enumerate(homes):
            name, lat, lon = zips[z]
            self.feeders.append((f"F-{f + 1:04d}", name,
                                 lat + rng.gauss(0, 0.004), lon + rng.gauss(0, 0.004)))
            weights.append(rng.lognormvariate(0.0, 0.9))  # skewed feeder sizes
        total = 0.0
        self.cumulative = []
        for w in weights:
            total += w
            self.cumulative.append(total)
        self.transformers = {}
        self.blocks = {}

    def clamp(self, lat, lon):
        """Within MAX_OFFSET of the centre, with room left for premise jitter."""
        c_lat, c_lon = self.center
        limit = MAX_OFFSET - PREMISE_JITTER
        lat = min(max(lat, c_lat - limit), c_lat + limit)
        lon = min(max(lon, c_lon - limit), c_lon + limit)
        return lat, lon

    def transformer(self, t):
        """(id, feeder, zip, lat, lon, street) for transformer number t >= 1."""
        found = self.transformers.get(t)
        if found is None:
            if len(self.transformers) > 4096:
                self.transformers.clear()
            rng = random.Random((GRID_SEED << 32) + t)
            x = rng.random() * self.cumulative[-1]
            fid, zip_code, lat, lon = self.feeders[bisect.bisect_right(self.cumulative, x)]
            lat, lon = self.clamp(lat + rng.gauss(0, 0.003), lon + rng.gauss(0, 0.003))
            if rng.random() < 0.12:
                street = f"{rng.choice(PREFIXES_ES)} {rng.choice(STREETS_ES)}"
            else:
                street = f"{rng.choice(STREETS_EN)} {rng.choice(SUFFIXES_EN)}"
            escaped = json.dumps(street, ensure_ascii=False)[1:-1]
            found = (f"T-{t:06d}", fid, zip_code, lat, lon, escaped)
            self.transformers[t] = found
        return found

    def transformer_of(self, n):
        """Transformer number serving customer n's primary premise."""
        block, offset = divmod(n - 1, BLOCK_CUSTOMERS)
        sizes = self.blocks.get(block)
        if sizes is None:
            self.blocks = {}
            sizes = list(BLOCK_SIZES)
            random.Random((GRID_SEED << 40) + block).shuffle(sizes)
            self.blocks[block] = sizes
        for k, size in enumerate(sizes):
            if offset < size:
                return block * len(BLOCK_SIZES) + k + 1
            offset -= size
        raise AssertionError("offset beyond block")


def premise_json(grid, r, pid, t):
    """One premise; `r` is the customer's rng.random (the hot path avoids randint)."""
    tid, fid, zip_code, lat, lon, street = grid.transformer(t)
    lat += (r() - 0.5) * 2 * PREMISE_JITTER
    lon += (r() - 0.5) * 2 * PREMISE_JITTER
    apt = f" Apt {1 + int(r() * 24)}" if r() < 0.35 else ""
    return (f'{{"id":"P-{pid:08d}","address":"{1 + int(r() * 999)} {street}{apt}",'
            f'"feeder":"{fid}","transformer":"{tid}","zip":"{zip_code}",'
            f'"location":{{"lat":{lat:.6f},"lon":{lon:.6f}}}}}')


def channel_list(chans):
    return "[" + ",".join(f'"{c}"' for c in chans) + "]"


def _channel_options(has_phone, has_email):
    """Channel choices among reachable channels only, each repeated by its weight."""
    sms, voice = (("SMS",), ("VOICE",)) if has_phone else ((), ())
    email = ("EMAIL",) if has_email else ()
    outage = [(sms + email, 4), (sms, 3), (email, 2), (sms + voice, 1), (voice, 1)]
    planned = [(email, 4), (sms, 2), (sms + email, 2), ((), 1)]
    boil = [(sms + voice, 3), (sms, 2), (sms + email + voice, 2), (email, 2), (voice, 1)]
    kinds = ("OUTAGE", "PLANNED_MAINTENANCE", "BOIL_WATER_ADVISORY")
    result = []
    for kind, options in zip(kinds, (outage, planned, boil)):
        pool = []
        for chans, weight in options:
            if chans:
                pool += [f'"{kind}":{channel_list(chans)}'] * weight
            elif options is planned:  # only maintenance notices may be switched off
                pool += [None] * weight
        result.append(pool)
    # Every weighted combination of the three kinds, so one draw picks them all.
    return ['{"channels":{' + ",".join(m for m in combo if m) + "}"
            for combo in itertools.product(*result)]


CHANNEL_OPTIONS = {(p, e): _channel_options(p, e) for p, e in ((1, 1), (1, 0), (0, 1))}
# The share of customers with quiet hours. Which decisions a fan-out holds then depends on the
# hour it runs; 0 gives customers none, so that every decision can queue a message.
QUIET_SHARE = 0.6
QUIET_JSON = tuple(f',"quietHours":{{"start":"{s}","end":"{e}"}}' for s, e in QUIET_HOURS)


def pick(r, seq):
    return seq[int(r() * len(seq))]


def preferences_json(r, reach, quiet_share=QUIET_SHARE):
    out = pick(r, CHANNEL_OPTIONS[reach]) + ',"cadence":"' + pick(r, CADENCES) + '"'
    x = r()
    # The window is drawn exactly when the default share would give one, so that another
    # share changes who has quiet hours and nothing else.
    quiet = pick(r, QUIET_JSON) if x < QUIET_SHARE else QUIET_JSON[int(x * 1000) % len(QUIET_JSON)]
    if x < quiet_share:
        out += quiet
    if r() < 0.5:
        out += f',"maxPerDay":{3 + int(r() * 8)}'
    x = r()
    if x < 0.4:
        out += ',"callbackOffers":true'
    elif x < 0.6:
        out += ',"callbackOffers":false'
    return out + "}"


# The C-level seed: same stream as Random.seed for ints, minus the Python wrapper.
SEED = _random.Random.seed


def customer_fields(grid, rng, seed, n, quiet_share=QUIET_SHARE):
    """The customer's JSON members ('"key":value'), in proto field order."""
    SEED(rng, (seed << 32) + n)
    r = rng.random
    spanish = r() < 0.3
    pool = (NAMES_ES if spanish else NAMES_EN) if r() < 0.85 else NAMES_MIXED
    name, local = pick(r, pool)
    x = r()
    reach = (1, 1) if x < 0.7 else (1, 0) if x < 0.9 else (0, 1)
    fields = [f'"id":"C-{n:07d}"', '"name":' + name]
    if reach[0]:
        fields.append(f'"phone":"+1{pick(r, PHONE_PREFIXES)}{int(r() * 10000):04d}"')
    if reach[1]:
        fields.append(f'"email":"{local}+{n}@{pick(r, EMAIL_DOMAINS)}"')
    fields.append('"language":"es"' if spanish else '"language":"en"')
    x = r()
    zone = "America/New_York" if x < 0.88 else OTHER_ZONES[int((x - 0.88) / 0.024)]
    fields.append(f'"timeZone":"{zone}"')
    own = grid.transformer_of(n)
    premises = [premise_json(grid, r, n * 10, own)]
    if r() < 0.08:  # landlords and businesses: premises on nearby-numbered transformers
        for j in range(1, 2 + int(r() * 2)):
            step = 1 + int(r() * 60)
            other = own - step if own > step and r() < 0.5 else own + step
            premises.append(premise_json(grid, r, n * 10 + j, other))
    fields.append('"premises":[' + ",".join(premises) + "]")
    fields.append('"preferences":' + preferences_json(r, reach, quiet_share))
    if r() < 0.015:
        fields.append('"medicallyDependent":true')
    return fields


def join(fields):
    return "{" + ",".join(fields) + "}"


def _with_quiet_hours(prefs, member):
    """Preferences JSON with its quietHours member replaced (or added)."""
    if '"quietHours"' in prefs:
        return re.sub(r'"quietHours":\{[^}]*\}', member, prefs)
    return prefs[:-1] + "," + member + "}"


def _replace(fields, key, member):
    """Fields with member `key` replaced by `member`, or `member` appended."""
    prefix = f'"{key}":'
    out = [member if f.startswith(prefix) else f for f in fields]
    return out if member in out else out + [member]


def bad_line(fields, kind):
    """One customer made invalid in exactly one way."""
    if kind == "phone":
        return join(_replace(fields, "phone", '"phone":"+1212555"'))
    if kind == "email":
        return join(_replace(fields, "email", '"email":"not-an-email.example.com"'))
    if kind == "unknown_field":
        return join(fields + ['"favouriteColour":"blue"'])
    if kind == "wrong_type":
        return join(_replace(fields, "medicallyDependent", '"medicallyDependent":"sometimes"'))
    if kind == "time_zone":
        return join(_replace(fields, "timeZone", '"timeZone":"Mars/Olympus_Mons"'))
    if kind == "quiet_hours":
        prefs = next(f for f in fields if f.startswith('"preferences":'))
        bad = _with_quiet_hours(prefs, '"quietHours":{"start":"25:00","end":"07:60"}')
        return join(_replace(fields, "preferences", bad))
    text = join(fields)  # broken_json: cut mid-line, as a truncated upload would be
    return text[: len(text) // 2]


def generate(count, seed=1, start=0, center=DEFAULT_CENTER, bad_every=0,
             quiet_share=QUIET_SHARE):
    """Yield `count` NDJSON lines (without newline) for customers start+1..start+count."""
    grid = Grid(center)
    rng = random.Random()
    bad = 0
    for i in range(1, count + 1):
        fields = customer_fields(grid, rng, seed, start + i, quiet_share)
        if bad_every and i % bad_every == 0:
            yield bad_line(fields, BAD_KINDS[bad % len(BAD_KINDS)])
            bad += 1
        else:
            yield join(fields)


def parse_center(text):
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LAT,LON, e.g. 40.75,-73.99")
    if not (-90 + MAX_OFFSET <= lat <= 90 - MAX_OFFSET and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError("centre out of range")
    return lat, lon


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, required=True, help="customers to write")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--out", default="-", help="output file, - for stdout")
    ap.add_argument("--start", type=int, default=0, help="first id is C-(start+1)")
    ap.add_argument("--utility-center", type=parse_center, default=DEFAULT_CENTER,
                    metavar="LAT,LON", help="centre of the service area")
    ap.add_argument("--bad-every", type=int, default=0, metavar="K",
                    help="make every K-th line invalid (rotating kinds)")
    ap.add_argument("--quiet-share", type=float, default=QUIET_SHARE, metavar="X",
                    help=f"share of customers with quiet hours (default {QUIET_SHARE})")
    args = ap.parse_args(argv)
    if args.count < 0 or args.start < 0 or args.start + args.count > MAX_CUSTOMER:
        ap.error(f"need 0 <= start, 0 <= count, start + count <= {MAX_CUSTOMER}")
    if args.seed < 0 or args.bad_every < 0:
        ap.error("--seed and --bad-every must not be negative")
    if not 0 <= args.quiet_share <= 1:
        ap.error("--quiet-share must be between 0 and 1")
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    try:
        batch = []
        for line in generate(args.count, args.seed, args.start, args.utility_center,
                             args.bad_every, args.quiet_share):
            batch.append(line)
            if len(batch) == 4096:
                out.write(("\n".join(batch) + "\n").encode())
                batch.clear()
        if batch:
            out.write(("\n".join(batch) + "\n").encode())
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()  # `| head` is a normal way to peek; not an error
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
