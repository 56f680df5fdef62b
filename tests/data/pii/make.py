#!/usr/bin/env python3
"""Writes pii-a.warc.gz, pii-b.warc.gz and pii-c.warc.gz: a small crawl of
realistic English and Chinese pages, some of which carry personal data
(e-mail addresses, phone numbers, a Chinese resident identity number, a
payment card number) next to invalid look-alikes, for issue 19's tests
(tests/e2e_audit.rs). Three input objects, so that samples per input and
builds with several workers have something to differ on.

Standard library only, deterministic (fixed dates, record ids derived from the
URL and date, gzip mtime 0): running it again gives the same bytes.

    python3 tests/data/pii/make.py

What each page holds is listed in tests/data/README.md ("Personal-data
crawl") and, as the tests' expectations, in tests/e2e_audit.rs.
"""

import base64
import gzip
import hashlib
import os
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def sha1_b32(data):
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id(*parts):
    name = "provindex-test-pii:" + " ".join(parts)
    return "<urn:uuid:%s>" % uuid.uuid5(uuid.NAMESPACE_URL, name)


def warc_record(headers, block):
    head = "WARC/1.0\r\n"
    for name, value in headers:
        head += "%s: %s\r\n" % (name, value)
    head += "Content-Length: %d\r\n\r\n" % len(block)
    return head.encode("utf-8") + block + b"\r\n\r\n"


def response(url, date, body):
    body = body.encode("utf-8")
    http = "HTTP/1.1 200 OK\r\n"
    http += "Date: Wed, 01 May 2024 %s GMT\r\n" % date[11:19]
    http += "Server: nginx\r\n"
    http += "Content-Type: text/html; charset=utf-8\r\n"
    http += "Content-Length: %d\r\n" % len(body)
    http += "Connection: close\r\n\r\n"
    block = http.encode("utf-8") + body
    return warc_record(
        [
            ("WARC-Type", "response"),
            ("WARC-Record-ID", record_id(url, date)),
            ("WARC-Date", date),
            ("WARC-Target-URI", url),
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Payload-Digest", sha1_b32(body)),
            ("WARC-Block-Digest", sha1_b32(block)),
        ],
        block,
    )


def page(lang, site, title, paragraphs):
    body = "".join("<p>%s</p>\n" % p for p in paragraphs)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="%s">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        "<title>%s</title>\n"
        "</head>\n"
        "<body>\n"
        '<header><a href="/">%s</a></header>\n'
        "<main>\n<h1>%s</h1>\n%s</main>\n"
        "</body>\n</html>\n"
    ) % (lang, title, site, title, body)


# (file, url, lang, title, paragraphs). Planted identifiers:
#   wei.zhang@example.com      news.example.com/contact and bbs.example.net/thread/7
#                              (written Wei.Zhang@Example.com on the second)
#   m.rossi@example.org        www.example.org/people/rossi
#   +86 138 0013 8000          bbs.example.net/thread/7 (as 138-0013-8000)
#   +44 20 7946 0958           www.example.org/people/rossi
#   11010519491231002X         shop.example.com/order/1001 (valid check character)
#   4111 1111 1111 1111        shop.example.com/order/1001 (Luhn-valid)
# Look-alikes that must not count: 110105194912310021 (wrong check
# character), 4111 1111 1111 1112 (fails Luhn), logo@2x.png, version 1.3.8.0013.
PAGES = [
    ("a", "https://news.example.com/contact", "en", "Contact the newsroom", [
        "Tips and corrections go to our duty editor, Wei Zhang, at"
        " wei.zhang@example.com, who reads every message sent before six in the evening.",
        "We do not accept anonymous corrections to published obituaries.",
    ]),
    ("a", "https://news.example.com/2024/05/harbour-dredging", "en", "Harbour dredging starts in June", [
        "The port authority confirmed that dredging of the inner harbour will start on the"
        " third of June and last eleven weeks, weather permitting.",
        "Ferries to the islands keep their timetable; the fish market moves to the east quay.",
    ]),
    ("a", "https://news.example.com/2024/05/library-hours", "en", "Library extends evening hours", [
        "From next month the central library stays open until nine on Tuesdays and Thursdays,"
        " after a petition signed by more than two thousand readers.",
    ]),
    ("a", "https://news.example.com/2024/05/school-meals", "en", "School meals to use local produce", [
        "Eleven primary schools will buy vegetables from farms within thirty miles,"
        " the county council said on Friday.",
    ]),
    ("a", "https://news.example.com/2024/05/bridge-repairs", "en", "Bridge repairs close one lane", [
        "One lane of the river bridge closes overnight for three weeks while engineers"
        " replace worn expansion joints.",
    ]),
    ("a", "https://news.example.com/2024/05/marathon", "en", "Marathon route announced", [
        "The autumn marathon will finish in the old market square for the first time,"
        " organisers announced, with a new loop past the cathedral.",
    ]),
    ("a", "https://news.example.com/about", "en", "About the newspaper", [
        "Founded in 1871, the paper has reported on the town's harbour, markets and"
        " council for over one hundred and fifty years. Our logo@2x.png artwork is by a local printer.",
    ]),
    ("a", "https://news.example.com/2024/05/release-notes", "en", "Reader app update", [
        "Version 1.3.8.0013 of the reader app fixes the crossword timer and adds a dark theme.",
    ]),
    ("b", "https://shop.example.com/order/1001", "en", "Order confirmation 1001", [
        "Thank you for your order. Identity number on file: 11010519491231002X.",
        "Paid with card 4111 1111 1111 1111, expiry 12/27.",
    ]),
    ("b", "https://shop.example.com/order/1002", "en", "Order confirmation 1002", [
        "Thank you for your order. Reference: 110105194912310021 (not an identity number).",
        "Card reference 4111 1111 1111 1112 was declined and not charged.",
    ]),
    ("b", "https://shop.example.com/catalogue/teapots", "en", "Teapots", [
        "Stoneware teapots glazed by hand in three colours, each holding six cups.",
    ]),
    ("b", "https://shop.example.com/catalogue/kettles", "en", "Kettles", [
        "Enamel kettles for gas and induction hobs, whistling or silent, in four sizes.",
    ]),
    ("b", "https://shop.example.com/delivery", "en", "Delivery", [
        "We deliver on weekdays; orders placed before noon leave the warehouse the same day.",
    ]),
    ("b", "https://shop.example.com/returns", "en", "Returns", [
        "Unused items can be returned within thirty days for a full refund.",
    ]),
    ("b", "https://www.example.org/people/rossi", "en", "Dr Maria Rossi", [
        "Maria Rossi leads the coastal ecology group. Write to m.rossi@example.org or call"
        " +44 20 7946 0958 during office hours.",
    ]),
    ("b", "https://www.example.org/research/seagrass", "en", "Seagrass restoration", [
        "Our seagrass plots in the estuary have doubled in area since planting began in 2019.",
    ]),
    ("c", "https://bbs.example.net/thread/7", "zh", "二手自行车转让", [
        "九成新山地车一辆，价格面议。有意者请联系张先生，电话：138-0013-8000，"
        "或发邮件至 Wei.Zhang@Example.com。",
    ]),
    ("c", "https://bbs.example.net/thread/8", "zh", "周末徒步活动", [
        "本周六早上八点在西湖北门集合，沿山路走到龙井村，全程约十二公里，请自带午餐和饮水。",
    ]),
    ("c", "https://bbs.example.net/thread/9", "zh", "推荐一家面馆", [
        "学校后门新开的牛肉面馆味道很正宗，汤头清亮，面条是现拉的，中午人比较多。",
    ]),
    ("c", "https://bbs.example.net/thread/10", "zh", "租房经验分享", [
        "签合同之前一定要看清楚押金条款，最好拍照记录房间里家具和电器的状况。",
    ]),
    ("c", "https://bbs.example.net/thread/11", "zh", "图书馆开放时间调整", [
        "市图书馆从下个月起周二和周四延长开放到晚上九点，周一闭馆整理。",
    ]),
    ("c", "https://bbs.example.net/thread/12", "zh", "关于垃圾分类的讨论", [
        "小区从五月开始实行垃圾分类，厨余垃圾每天早晚各收一次，其他垃圾照常。",
    ]),
    ("c", "https://www.example.org/research/tides", "en", "Tide gauges", [
        "Three new tide gauges report every six minutes to the national network.",
    ]),
    ("c", "https://www.example.org/events/open-day", "en", "Open day", [
        "The marine station opens its laboratories to the public on the first Saturday of July.",
    ]),
]


def main():
    files = {}
    for number, (name, url, lang, title, paragraphs) in enumerate(PAGES):
        date = "2024-05-01T09:%02d:00Z" % number
        site = url.split("/")[2]
        files.setdefault(name, []).append(response(url, date, page(lang, site, title, paragraphs)))
    for name, recs in sorted(files.items()):
        out = os.path.join(HERE, "pii-%s.warc.gz" % name)
        data = b"".join(gzip.compress(rec, compresslevel=9, mtime=0) for rec in recs)
        with open(out, "wb") as f:
            f.write(data)
        print("wrote %s (%d records, %d bytes)" % (out, len(recs), len(data)))


if __name__ == "__main__":
    main()
