#!/usr/bin/env python3
"""Writes reservations.warc.gz: a small crawl whose pages and site files carry
every opt-out ("reservation") signal provindex recognizes, each next to
unreserved control pages.

Standard library only, deterministic (fixed dates, record ids derived from the
URL and date, gzip mtime 0): running it again gives the same bytes.

    python3 tests/data/reservations/make.py

The records and the verdict each one must get are listed in
tests/data/README.md ("Reservation crawl") and, as the tests' expectations, in
tests/reservation_table/mod.rs.
"""

import base64
import gzip
import hashlib
import os
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reservations.warc.gz")


def http_date(warc_date):
    """2024-05-01T09:00:00Z -> Wed, 01 May 2024 09:00:00 GMT (all dates are that day)."""
    assert warc_date.startswith("2024-05-01T") and warc_date.endswith("Z")
    return "Wed, 01 May 2024 %s GMT" % warc_date[11:19]


def sha1_b32(data):
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id(*parts):
    name = "provindex-test-reservations:" + " ".join(parts)
    return "<urn:uuid:%s>" % uuid.uuid5(uuid.NAMESPACE_URL, name)


def warc_record(headers, block):
    """One WARC/1.0 record (headers in the given order, then Content-Length)."""
    head = "WARC/1.0\r\n"
    for name, value in headers:
        head += "%s: %s\r\n" % (name, value)
    head += "Content-Length: %d\r\n\r\n" % len(block)
    return head.encode("utf-8") + block + b"\r\n\r\n"


def response(url, date, content_type, body, extra_headers=(), status="200 OK"):
    """An HTTP response record for url captured at date."""
    body = body.encode("utf-8")
    http = "HTTP/1.1 %s\r\n" % status
    http += "Date: %s\r\n" % http_date(date)
    http += "Server: nginx\r\n"
    http += "Content-Type: %s\r\n" % content_type
    http += "Content-Length: %d\r\n" % len(body)
    for name, value in extra_headers:
        http += "%s: %s\r\n" % (name, value)
    http += "Connection: close\r\n\r\n"
    block = http.encode("utf-8") + body
    return warc_record(
        [
            ("WARC-Type", "response"),
            ("WARC-Record-ID", record_id(url, date)),
            ("WARC-Date", date),
            ("WARC-Target-URI", url),
            ("WARC-IP-Address", "192.0.2.%d" % (1 + sum(url.encode()) % 250)),
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Payload-Digest", sha1_b32(body)),
            ("WARC-Block-Digest", sha1_b32(block)),
        ],
        block,
    )


def page(site, title, paragraphs, metas=()):
    """A plain, realistic HTML page."""
    meta_lines = "".join("<meta %s>\n" % m for m in metas)
    body = "".join("<p>%s</p>\n" % p for p in paragraphs)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "%s"
        "<title>%s</title>\n"
        "</head>\n"
        "<body>\n"
        '<header><a href="/">%s</a></header>\n'
        "<main>\n"
        "<h1>%s</h1>\n"
        "%s"
        "</main>\n"
        "</body>\n"
        "</html>\n"
    ) % (meta_lines, title, site, title, body)


HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

# The novel is captured twice: on its own site (reserved by tdmrep.json) and,
# byte for byte, on a mirror whose capture carries no signal.
NOVEL = page(
    "Harbour Lane Books",
    "The Lighthouse Keeper's Daughter, chapter one",
    [
        "Mara counted the steps of the lighthouse every evening, one hundred and"
        " twelve of them, each worn into a shallow bowl by her grandfather's boots.",
        "The winter of the great storm began with a letter from the mainland that"
        " nobody in the family was willing to open before supper.",
    ],
)


def records():
    out = []

    def add(url, date, content_type, body, headers=()):
        out.append(response(url, date, content_type, body, headers))

    # ---- site files, captured before the pages they govern -----------------
    add(
        "https://tdmrep-json.example/.well-known/tdmrep.json",
        "2024-05-01T08:00:00Z",
        "application/json",
        '[\n  {"location": "/books/*", "tdm-reservation": 1,'
        ' "tdm-policy": "https://tdmrep-json.example/policies/tdm.json"}\n]\n',
    )
    add(
        "https://robots-ai.example/robots.txt",
        "2024-05-01T08:01:00Z",
        TEXT,
        "# robots.txt for robots-ai.example\n"
        "User-agent: GPTBot\n"
        "Disallow: /private/\n"
        "\n"
        "User-agent: CCBot\n"
        "User-agent: Google-Extended\n"
        "Disallow: /drafts/\n"
        "\n"
        "User-agent: *\n"
        "Disallow: /tmp/\n"
        "\n"
        "Sitemap: https://robots-ai.example/sitemap.xml\n",
    )
    add(
        "https://robots-pref.example/robots.txt",
        "2024-05-01T08:02:00Z",
        TEXT,
        "# Preferences for automated processing (IETF aipref vocabulary)\n"
        "User-agent: *\n"
        "Allow: /\n"
        "Content-Usage: /archive/ train-ai=n\n"
        "Content-Usage: train-ai=y\n",
    )
    add(
        "https://ai-txt.example/ai.txt",
        "2024-05-01T08:03:00Z",
        TEXT,
        "# Spawning AI\n"
        "# Prevent datasets from using the following file types\n"
        "User-Agent: *\n"
        "Disallow: /art/\n"
        "Disallow: *.jpg\n"
        "Disallow: *.png\n"
        "Allow: /\n",
    )

    # ---- TDMRep in the HTTP header ------------------------------------------
    add(
        "https://tdm-header.example/articles/reserved.html",
        "2024-05-01T09:00:00Z",
        HTML,
        page(
            "Tidewater Gazette",
            "Harbour authority approves new ferry timetable",
            [
                "The harbour authority voted on Tuesday to add two early crossings to"
                " the island ferry timetable from the first week of June.",
                "Commuters had petitioned for a departure before seven o'clock since"
                " the fish market moved to the northern quay last spring.",
            ],
        ),
        [
            ("tdm-reservation", "1"),
            ("tdm-policy", "https://tdm-header.example/policies/tdm.json"),
        ],
    )
    add(
        "https://tdm-header.example/articles/open.html",
        "2024-05-01T09:01:00Z",
        HTML,
        page(
            "Tidewater Gazette",
            "Volunteers restore the old signal station",
            [
                "A group of retired engineers spent three weekends replacing the rotten"
                " shutters of the signal station above Gull Point.",
                "The station will open to visitors on bank holidays, with a small"
                " display of flags, lamps and logbooks from the coastguard archive.",
            ],
        ),
        [("tdm-reservation", "0")],
    )

    # ---- TDMRep in HTML <meta> ----------------------------------------------
    add(
        "https://tdm-meta.example/papers/reserved.html",
        "2024-05-01T09:02:00Z",
        HTML,
        page(
            "Journal of Applied Soil Science",
            "Nitrogen retention in terraced vineyards",
            [
                "We measured nitrate leaching under cover crops on twelve terraced"
                " plots over four growing seasons in the upper Douro valley.",
                "Plots sown with clover retained markedly more nitrogen during autumn"
                " rains than bare plots or those under rye grass.",
            ],
            metas=[
                'name="tdm-reservation" content="1"',
                'name="tdm-policy" content="https://tdm-meta.example/policies/tdm.json"',
            ],
        ),
    )
    add(
        "https://tdm-meta.example/papers/plain.html",
        "2024-05-01T09:03:00Z",
        HTML,
        page(
            "Journal of Applied Soil Science",
            "Call for reviewers, autumn issue",
            [
                "The editors are looking for reviewers with experience in soil"
                " microbiology, irrigation hydraulics or long-term field trials.",
                "Please write to the editorial office with a short note describing"
                " your recent work and the topics you would rather not review.",
            ],
        ),
    )

    # ---- TDMRep in /.well-known/tdmrep.json (covers /books/* only) -----------
    add(
        "https://tdmrep-json.example/books/novel.html",
        "2024-05-01T09:04:00Z",
        HTML,
        NOVEL,
    )
    add(
        "https://tdmrep-json.example/books/sample.html",
        "2024-05-01T09:05:00Z",
        HTML,
        page(
            "Harbour Lane Books",
            "Free sample: Recipes from a Cornish Kitchen",
            [
                "Saffron buns, stargazy pie and a proper pasty crimp are explained"
                " step by step in this free excerpt from our best-selling cookbook.",
                "The publisher allows text and data mining of this sample, whatever"
                " the site-wide policy for the rest of the catalogue says.",
            ],
            metas=['name="tdm-reservation" content="0"'],
        ),
    )
    add(
        "https://tdmrep-json.example/blog/post.html",
        "2024-05-01T09:06:00Z",
        HTML,
        page(
            "Harbour Lane Books",
            "Meet the staff: our Saturday booksellers",
            [
                "Jonah runs the children's corner and reads aloud every Saturday at"
                " eleven, usually something with pirates or talking badgers.",
                "Priya looks after second-hand poetry and will happily argue about"
                " Elizabeth Bishop with anyone who stays long enough.",
            ],
        ),
    )

    # ---- X-Robots-Tag: noai / noimageai --------------------------------------
    add(
        "https://noai-header.example/photos/a.html",
        "2024-05-01T09:07:00Z",
        HTML,
        page(
            "Fenland Light Photography",
            "Morning mist over the drainage channels",
            [
                "Shot at dawn near Welney with a long lens, the frost still on the"
                " reeds and a pair of whooper swans crossing the frame.",
                "Prints are available on matte cotton paper in three sizes.",
            ],
        ),
        [("X-Robots-Tag", "noai, noimageai")],
    )
    add(
        "https://noai-header.example/photos/b.html",
        "2024-05-01T09:08:00Z",
        HTML,
        page(
            "Fenland Light Photography",
            "Sugar beet harvest at dusk",
            [
                "Tractors with their headlights on, a mountain of beet by the"
                " roadside and the last orange band of sky behind the church tower.",
                "This series was commissioned by the county rural museum.",
            ],
        ),
        [("X-Robots-Tag", "noimageai")],
    )
    add(
        "https://noai-header.example/index.html",
        "2024-05-01T09:09:00Z",
        HTML,
        page(
            "Fenland Light Photography",
            "Workshops and contact",
            [
                "Landscape workshops run from October to March, for no more than"
                " four participants, starting from the car park at Ely station.",
                "Bring waterproof boots, a tripod and a flask of something hot.",
            ],
        ),
        [("X-Robots-Tag", "noarchive")],
    )

    # ---- <meta name="robots" content="noai, noimageai"> ----------------------
    add(
        "https://noai-meta.example/gallery/a.html",
        "2024-05-01T09:10:00Z",
        HTML,
        page(
            "Studio Okonkwo Illustration",
            "Inktober sketches, week two",
            [
                "Seven brush-pen drawings of market traders in Onitsha, drawn from"
                " memory on the train and finished with a single grey wash.",
                "The originals will be shown at the library in November.",
            ],
            metas=['name="robots" content="noai, noimageai"'],
        ),
    )
    add(
        "https://noai-meta.example/gallery/b.html",
        "2024-05-01T09:11:00Z",
        HTML,
        page(
            "Studio Okonkwo Illustration",
            "Book cover for a debut thriller",
            [
                "A rain-soaked stairwell, a red umbrella and the title set in a"
                " condensed grotesque: the brief asked for dread without gore.",
                "Three rejected thumbnails are shown beside the final artwork.",
            ],
            metas=['name="robots" content="noimageai"'],
        ),
    )
    add(
        "https://noai-meta.example/about.html",
        "2024-05-01T09:12:00Z",
        HTML,
        page(
            "Studio Okonkwo Illustration",
            "About the studio",
            [
                "Ada Okonkwo has illustrated picture books, wine labels and one"
                " very large mural for a swimming pool in Leeds.",
                "Commissions open twice a year; the waiting list is short.",
            ],
            metas=['name="robots" content="index, follow"'],
        ),
    )

    # ---- Content-Usage (IETF aipref) header ---------------------------------
    add(
        "https://content-usage.example/reports/a.html",
        "2024-05-01T09:13:00Z",
        HTML,
        page(
            "Regional Water Quality Board",
            "Annual bathing water report 2023",
            [
                "Of the forty-one designated bathing sites, thirty-six were rated"
                " excellent and two were closed after storm overflows in August.",
                "Sampling frequency will double at the two closed sites next season.",
            ],
        ),
        [("Content-Usage", "train-ai=n")],
    )
    add(
        "https://content-usage.example/reports/b.html",
        "2024-05-01T09:14:00Z",
        HTML,
        page(
            "Regional Water Quality Board",
            "Groundwater abstraction licences issued in March",
            [
                "Eleven licences were granted, mostly to dairy farms, and three"
                " applications were refused because of low aquifer levels.",
                "Objections can be lodged within twenty-eight days of publication.",
            ],
        ),
        [("Content-Usage", "train-ai=y")],
    )

    # ---- Content-Signal header ----------------------------------------------
    add(
        "https://content-signal.example/news/a.html",
        "2024-05-01T09:15:00Z",
        HTML,
        page(
            "Alpine Cycling Weekly",
            "Col du Galibier reopens after rockfall",
            [
                "The northern approach from Valloire reopened on Friday after crews"
                " cleared two hundred tonnes of rock from the hairpins.",
                "Riders are asked to use the lit tunnel only between eight and six.",
            ],
        ),
        [("Content-Signal", "search=yes, ai-train=no")],
    )
    add(
        "https://content-signal.example/news/b.html",
        "2024-05-01T09:16:00Z",
        HTML,
        page(
            "Alpine Cycling Weekly",
            "Reader question: which gearing for the Stelvio?",
            [
                "A compact chainset with a thirty-four tooth cassette sprocket is"
                " plenty for most riders, our mechanic says, unless you are towing.",
                "Send your own questions; we answer one every week.",
            ],
        ),
        [("Content-Signal", "search=yes, ai-input=yes, ai-train=yes")],
    )

    # ---- robots.txt groups for AI crawlers ----------------------------------
    add(
        "https://robots-ai.example/private/report.html",
        "2024-05-01T09:17:00Z",
        HTML,
        page(
            "Meridian Analytics",
            "Quarterly member report (members only)",
            [
                "Freight volumes through the three inland ports rose by four percent"
                " while average dwell time for containers fell by half a day.",
                "The full tables are attached for members of the consortium.",
            ],
        ),
    )
    add(
        "https://robots-ai.example/drafts/chapter.html",
        "2024-05-01T09:18:00Z",
        HTML,
        page(
            "Meridian Analytics",
            "Draft: a short history of the canal tolls",
            [
                "Tolls on the western canal were first collected in 1794 at a lock"
                " keeper's cottage that still stands beside the towpath.",
                "This draft chapter has not yet been checked by the archivist.",
            ],
        ),
    )
    add(
        "https://robots-ai.example/tmp/scratch.html",
        "2024-05-01T09:19:00Z",
        HTML,
        page(
            "Meridian Analytics",
            "Scratch page for layout tests",
            [
                "Lorem ipsum replaced by a real sentence about barges carrying coal"
                " and grain between the mills at Hexley and the river wharf.",
                "This page exists so the designers can test table widths.",
            ],
        ),
    )
    add(
        "https://robots-ai.example/public/welcome.html",
        "2024-05-01T09:20:00Z",
        HTML,
        page(
            "Meridian Analytics",
            "Welcome to Meridian Analytics",
            [
                "We collect and publish statistics on inland waterway freight for"
                " local authorities, boat operators and curious historians.",
                "Our open datasets are updated on the first Monday of each month.",
            ],
        ),
    )

    # ---- robots.txt Content-Usage lines -------------------------------------
    add(
        "https://robots-pref.example/archive/2019.html",
        "2024-05-01T09:21:00Z",
        HTML,
        page(
            "Northfield Choral Society",
            "Concert archive: spring 2019",
            [
                "Haydn's Creation in the parish church, with a borrowed harpsichord"
                " and a tenor who arrived from Manchester ten minutes before the start.",
                "The recording is kept in the society's library.",
            ],
        ),
    )
    add(
        "https://robots-pref.example/current.html",
        "2024-05-01T09:22:00Z",
        HTML,
        page(
            "Northfield Choral Society",
            "This season's programme",
            [
                "Rehearsals are on Wednesday evenings in the school hall; new basses"
                " are especially welcome and no audition is needed.",
                "The winter concert pairs Vivaldi's Gloria with carols for all.",
            ],
        ),
    )

    # ---- ai.txt (Spawning) ---------------------------------------------------
    add(
        "https://ai-txt.example/art/portrait.html",
        "2024-05-01T09:23:00Z",
        HTML,
        page(
            "Galerie Lindqvist",
            "Portrait of a ferryman, oil on linen",
            [
                "Painted over a single winter in Stockholm archipelago light, the"
                " portrait shows the ferryman Erik holding a coil of tarred rope.",
                "Sixty by eighty centimetres, signed and dated lower left.",
            ],
        ),
    )
    add(
        "https://ai-txt.example/shop/index.html",
        "2024-05-01T09:24:00Z",
        HTML,
        page(
            "Galerie Lindqvist",
            "Shop: catalogues and postcards",
            [
                "Exhibition catalogues from 2015 onwards can be ordered by post;"
                " postcards are sold in packs of ten with mixed motifs.",
                "Shipping within the Nordic countries is free above two hundred kronor.",
            ],
        ),
    )

    # ---- the novel again, on a mirror, with no signal of its own ------------
    add(
        "https://mirror.example/syndicated/novel.html",
        "2024-05-01T10:30:00Z",
        HTML,
        NOVEL,
    )
    return out


def main():
    info_body = (
        "software: tests/data/reservations/make.py (provindex test data)\r\n"
        "format: WARC File Format 1.0\r\n"
        "description: pages and site files carrying each opt-out signal,"
        " with unreserved controls\r\n"
    ).encode("utf-8")
    warcinfo = warc_record(
        [
            ("WARC-Type", "warcinfo"),
            ("WARC-Record-ID", record_id("warcinfo")),
            ("WARC-Date", "2024-05-01T08:00:00Z"),
            ("WARC-Filename", "reservations.warc.gz"),
            ("Content-Type", "application/warc-fields"),
        ],
        info_body,
    )
    data = b""
    for rec in [warcinfo] + records():
        data += gzip.compress(rec, compresslevel=9, mtime=0)
    with open(OUT, "wb") as f:
        f.write(data)
    print("wrote %s (%d bytes)" % (OUT, len(data)))


if __name__ == "__main__":
    main()
