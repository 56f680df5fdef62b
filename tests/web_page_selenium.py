"""Drives the rightholder web page of `provindex serve --http-listen` in
headless Chromium (selenium + chromedriver), as tests/e2e_web_page.rs starts
it: find a real page's text and a Chinese article, sign in with a rightholder
token, register / list / revoke a domain opt-out and see the verdict change,
a grant violation (403), `<script>` kept as text; claim a match and see the
claim listed, a claim overlapping another rightholder's refused (409); file a
copyright complaint about a match, see it "received" with its due date, ask
the Rust test (stdout "review: ID") to uphold it through gRPC, wait for
"upheld" on stdin, then see it "upheld" and the match's verdict reserved; and
a screenshot.

Usage: python web_page_selenium.py CONFIG.json (written by the Rust test).
The page itself has no JavaScript; the script only uses the browser's.
"""

import datetime
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

config = json.load(open(sys.argv[1], encoding="utf-8"))
BASE = config["base"]


def step(message):
    print("step:", message, flush=True)


def fail(message):
    raise AssertionError(message)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = config["chromium"]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1500", "--lang=en-US",
                "--force-device-scale-factor=1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(config["chromedriver"]), options=options)


driver = browser()
driver.set_page_load_timeout(120)


def no_alert():
    try:
        alert = driver.switch_to.alert
        fail(f"an alert opened: {alert.text!r}")
    except NoAlertPresentException:
        pass


def check_labels():
    """Every visible form control has a <label for> naming it."""
    for control in driver.find_elements(By.CSS_SELECTOR, "input, textarea, select"):
        if control.get_attribute("type") == "hidden":
            continue
        cid = control.get_attribute("id")
        if not cid:
            fail(f"a {control.tag_name} without an id on {driver.current_url}")
        labels = driver.find_elements(By.CSS_SELECTOR, f'label[for="{cid}"]')
        if not labels or not labels[0].text.strip():
            fail(f"#{cid} has no label on {driver.current_url}")


def submit(button_id):
    """Clicks a submit button and waits for the next page to replace this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()

    def replaced(_):
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # chromedriver's other word for a node of a document that is gone.
            return "does not belong to the document" in str(error)

    wait = WebDriverWait(driver, 120)
    wait.until(replaced)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    no_alert()


def paste(element_id, text):
    # What pasting does: the text lands in the field as it is.
    box = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = arguments[1];", box, text)


def find(text, lang):
    driver.get(f"{BASE}/?lang={lang}")
    check_labels()
    paste("text", text)
    submit("find")
    no_alert()
    if not driver.find_elements(By.ID, "results"):
        fail("no results section: " + driver.find_element(By.TAG_NAME, "main").text[:500])


def source_rows(url):
    """The result rows listing `url` as a source."""
    rows = []
    for row in driver.find_elements(By.CSS_SELECTOR, "tr.capture"):
        if row.find_element(By.CSS_SELECTOR, "td.url").text == url:
            rows.append(row)
    return rows


def check_source(url, date, verdict):
    rows = source_rows(url)
    if not rows:
        listed = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "td.url")]
        fail(f"{url} is not listed among {listed}")
    row = rows[0]
    shown_date = row.find_element(By.CSS_SELECTOR, "td.date").text
    if date is not None and shown_date != date:
        fail(f"{url}: capture date {shown_date!r}, expected {date!r}")
    cell = row.find_element(By.CSS_SELECTOR, "td.verdict")
    if cell.get_attribute("data-verdict") != verdict:
        fail(f"{url}: verdict {cell.get_attribute('data-verdict')!r} ({cell.text!r}), expected {verdict!r}")
    return cell.text


def match_with_source(url):
    """The match article listing `url` among its sources."""
    for article in driver.find_elements(By.CSS_SELECTOR, "article.match"):
        if any(c.text == url for c in article.find_elements(By.CSS_SELECTOR, "td.url")):
            return article
    fail(f"no match lists {url}")


def error_page(status, *parts):
    """This is the error page with `status` and a message holding `parts`."""
    shown = driver.find_element(By.ID, "status").text
    message = driver.find_element(By.ID, "message").text
    if shown != str(status) or not all(p in message for p in parts):
        fail(f"expected {status} with {parts}, got {shown} {message!r}")
    return message


en = config["en"]
zh = config["zh"]

# 1. English: a real page's text from the corpus.
step("find an English corpus page")
find(en["text"], "en")
if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "en":
    fail("the English page is not lang=en")
for label, expected in (("label[for=text]", "Text of the work"),
                        ("#results-heading", "Matches")):
    if driver.find_element(By.CSS_SELECTOR, label).text != expected:
        fail(f"{label}: {driver.find_element(By.CSS_SELECTOR, label).text!r}")
first = driver.find_element(By.CSS_SELECTOR, "article.match")
if "exact match" not in first.find_element(By.TAG_NAME, "h3").text:
    fail("the pasted page is not the first, exact, match: " + first.text[:300])
# A JSONL page carries no crawl signals: its verdict is unknown, not free.
label = check_source(en["url"], en["date"], "unknown")
if label != "Unknown":
    fail(f"verdict label {label!r}")

# 2. Chinese: the page in Chinese, a Chinese article.
step("find a Chinese article with the Chinese page")
find(zh["text"], "zh")
if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "zh-CN":
    fail("the Chinese page is not lang=zh-CN")
expected_zh = {
    "#find-heading": "查找作品出现的位置",
    "label[for=text]": "作品文本",
    "label[for=file]": "或上传文件（.txt、.html）",
    "#find": "查找匹配",
    "#results-heading": "匹配结果",
    "label[for=token]": "权利人令牌",
}
for selector, text in expected_zh.items():
    shown = driver.find_element(By.CSS_SELECTOR, selector).text
    if shown != text:
        fail(f"{selector}: {shown!r}, expected {text!r}")
headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "article.match th")][:5]
if headers != ["来源网址", "抓取日期", "许可协议", "选择退出状态", "抓取批次"]:
    fail(f"Chinese table headers {headers}")
check_source(zh["url"], zh["date"], "unknown")
near = [u for u in zh["near_urls"] if source_rows(u)]
if not near:
    fail(f"none of the near-duplicates {zh['near_urls']} is listed")
preview = driver.find_element(By.CSS_SELECTOR, "article.match .preview").text
if zh["preview_start"] not in preview.replace(" ", ""):
    fail(f"the Chinese preview {preview[:80]!r} lacks {zh['preview_start']!r}")
verdict = source_rows(zh["url"])[0].find_element(By.CSS_SELECTOR, "td.verdict").text
if verdict != "未知":
    fail(f"Chinese verdict label {verdict!r}")
driver.save_screenshot(config["screenshot_zh"])

# 2b. Upload: an .html file's text is what the index extracted from the page.
step("upload an .html file")
driver.get(f"{BASE}/?lang=en")
driver.find_element(By.ID, "file").send_keys(config["upload"]["html"])
submit("find")
first = driver.find_element(By.CSS_SELECTOR, "article.match")
if "exact match" not in first.find_element(By.TAG_NAME, "h3").text:
    fail("the uploaded page is not an exact match: " + first.text[:300])
if not source_rows(config["upload"]["url"]):
    fail("the uploaded page's source is not listed")
driver.get(f"{BASE}/?lang=en")
driver.find_element(By.ID, "file").send_keys(config["upload"]["refused"])
submit("find")
if driver.find_element(By.ID, "status").text != "400" or \
        "Only .txt and .html files" not in driver.find_element(By.ID, "message").text:
    fail("a .pdf upload was not refused: " + driver.find_element(By.TAG_NAME, "main").text)

# 3. <script> in a submitted work and in a source URL stays text.
step("<script> in a work and in a URL")
script = config["script"]
find(script["text"], "en")
no_alert()
if driver.find_element(By.ID, "text").get_attribute("value") != script["text"]:
    fail("the submitted work was not echoed back as text")
if not source_rows(script["url"]):
    fail(f"the source URL {script['url']!r} is not shown as text: "
         + str([r.text for r in driver.find_elements(By.CSS_SELECTOR, "td.url")]))
if "<script>alert" in driver.page_source.replace("&lt;", "<").replace("&gt;", ">") and \
        "<script>alert" in driver.page_source:
    fail("a raw <script> tag is in the page source")
if driver.find_elements(By.CSS_SELECTOR, "main script"):
    fail("a script element was injected")

# 3b. Complaints need a session: the page says so and offers the sign-in.
step("complaints page signed out")
driver.get(f"{BASE}/complaints?lang=en")
check_labels()
if not driver.find_elements(By.ID, "signin-needed") or driver.find_elements(By.ID, "file-complaint"):
    fail("the signed-out complaints page offers the form: " + driver.find_element(By.TAG_NAME, "main").text)

# 4. Sign in, register a domain opt-out within the grant, see it listed.
step("sign in")
driver.get(f"{BASE}/?lang=en")
check_labels()
driver.find_element(By.ID, "token").send_keys(config["token"])
submit("signin")
if "/optouts" not in driver.current_url:
    fail("sign-in did not lead to /optouts: " + driver.current_url)
if config["name"] not in driver.find_element(By.ID, "signed-in").text:
    fail("not signed in as " + config["name"])
check_labels()
cookies = {c["name"]: c for c in driver.get_cookies()}
session = cookies.get("provindex_session")
if not session or not session.get("httpOnly") or session.get("sameSite") != "Strict":
    fail(f"session cookie {session}")

step("register a domain opt-out")
Select(driver.find_element(By.ID, "kind")).select_by_value("domain")
driver.find_element(By.ID, "value").send_keys(en["domain"])
driver.find_element(By.ID, "evidence").send_keys("We publish this site.")
submit("register")
notice = driver.find_element(By.ID, "notice").text
if not notice.startswith("Opt-out registered: #"):
    fail(f"notice {notice!r}")
entry_id = notice.rsplit("#", 1)[1]
row = driver.find_element(By.CSS_SELECTOR, f'tr.optout[data-id="{entry_id}"]')
if row.get_attribute("data-active") != "true" or en["domain"] not in row.text:
    fail(f"registered row {row.text!r}")

step("the verdict changed")
find(en["text"], "en")
label = check_source(en["url"], en["date"], "reserved")
if f"registry entry #{entry_id}" not in label:
    fail(f"reserved verdict without its registry entry: {label!r}")

# 5. A grant violation: 403 with a readable message.
step("a domain outside the grant")
driver.get(f"{BASE}/optouts?lang=en")
Select(driver.find_element(By.ID, "kind")).select_by_value("domain")
driver.find_element(By.ID, "value").send_keys(config["outside_domain"])
submit("register")
if driver.find_element(By.ID, "status").text != "403":
    fail("grant violation status " + driver.find_element(By.TAG_NAME, "main").text)
message = driver.find_element(By.ID, "message").text
if "outside the scopes granted" not in message:
    fail(f"grant violation message {message!r}")

step("<script> in a submitted URL")
driver.get(f"{BASE}/optouts?lang=en")
Select(driver.find_element(By.ID, "kind")).select_by_value("url_prefix")
driver.find_element(By.ID, "value").send_keys(config["script_url_prefix"])
submit("register")
no_alert()
status = driver.find_element(By.ID, "status").text
message = driver.find_element(By.ID, "message").text
if status not in ("400", "403") or "<script>" not in message:
    fail(f"the refused URL is not shown as text: {status} {message!r}")

# 6. Revoke, and the verdict is back.
step("revoke")
driver.get(f"{BASE}/optouts?lang=en")
driver.find_element(By.ID, f"reason-{entry_id}").send_keys("Registered by mistake")
submit(f"revoke-{entry_id}")
if driver.find_element(By.ID, "notice").text != f"Opt-out revoked: #{entry_id}":
    fail("revocation notice " + driver.find_element(By.ID, "notice").text)
row = driver.find_element(By.CSS_SELECTOR, f'tr.optout[data-id="{entry_id}"]')
if row.get_attribute("data-active") != "false":
    fail(f"revoked row {row.text!r}")
find(en["text"], "en")
check_source(en["url"], en["date"], "unknown")

# 7a. Claim a match and see the claim listed, there and on the match.
step("claim a match")
find(en["text"], "en")
check_labels()
article = match_with_source(en["url"])
content_id = article.get_attribute("data-content-id")
if article.find_elements(By.CSS_SELECTOR, "li.claim"):
    fail("the match is claimed before it was claimed: " + article.text[:300])
driver.find_element(By.ID, f"claim-evidence-{content_id}").send_keys("Licence agreement 2024-17")
submit(f"claim-{content_id}")
notice = driver.find_element(By.ID, "notice").text
if not notice.startswith("Claim registered: #"):
    fail(f"claim notice {notice!r}: " + driver.find_element(By.TAG_NAME, "main").text[:300])
claim_id = notice.rsplit("#", 1)[1]
row = driver.find_element(By.CSS_SELECTOR, f'tr.claim[data-id="{claim_id}"]')
if row.find_element(By.CSS_SELECTOR, "td.rightholder").text != config["name"]:
    fail(f"claim row {row.text!r}")
if driver.find_element(By.ID, "claimed-content").text != content_id:
    fail("the claims page shows another content")
find(en["text"], "en")
listed = match_with_source(en["url"]).find_elements(By.CSS_SELECTOR, f'li.claim[data-id="{claim_id}"]')
if not listed or config["name"] not in listed[0].text:
    fail(f"claim #{claim_id} is not listed on the match")

step("a claim overlapping another rightholder's")
find(zh["text"], "en")
zh_article = match_with_source(zh["url"])
zh_content = zh_article.get_attribute("data-content-id")
if config["other_name"] not in zh_article.find_element(By.CSS_SELECTOR, "section.claims").text:
    fail("the other rightholder's claim is not listed: " + zh_article.text[:300])
driver.find_element(By.ID, f"claim-evidence-{zh_content}").send_keys("Mine too")
submit(f"claim-{zh_content}")
error_page(409, "overlaps claim", config["other_name"])

# 7b. A complaint about a match: received, then upheld by a reviewer over
# gRPC, and the match's verdict follows.
step("a complaint about nothing indexed")
driver.get(f"{BASE}/complaints?lang=en")
check_labels()
Select(driver.find_element(By.ID, "target")).select_by_value("url")
driver.find_element(By.ID, "complaint-url").send_keys(config["unindexed_url"])
driver.find_element(By.ID, "description").send_keys("Copied")
submit("file-complaint")
error_page(404, "no capture of", config["unindexed_url"])

step("file a complaint about a match")
find(en["text"], "en")
submit(f"complain-{content_id}")
check_labels()
if driver.find_element(By.ID, "complaint-content-id").get_attribute("value") != content_id:
    fail("the complaint form is not about the match's content")
Select(driver.find_element(By.ID, "complaint-kind")).select_by_value("copyright")
Select(driver.find_element(By.ID, "target")).select_by_value("content_id")
driver.find_element(By.ID, "description").send_keys("This page copies our article word for word.")
submit("file-complaint")
state = driver.find_element(By.ID, "state")
if state.get_attribute("data-state") != "received" or state.text != "received":
    fail(f"complaint state {state.text!r}")
complaint_id = driver.find_element(By.ID, "complaint-number").text
if driver.find_element(By.ID, "notice").text != f"Complaint filed. Keep its id to look it up: #{complaint_id}":
    fail("filing notice " + driver.find_element(By.ID, "notice").text)
if content_id not in driver.find_element(By.ID, "contents").text:
    fail("the complaint does not list the match's content")
time_format = "%Y-%m-%d %H:%M:%S UTC"
filed = datetime.datetime.strptime(driver.find_element(By.ID, "filed").text, time_format)
due = driver.find_element(By.ID, "due").text
if due != (filed + datetime.timedelta(days=config["due_days"])).strftime(time_format):
    fail(f"due {due!r} is not {config['due_days']} days after filing {filed}")

step("a reviewer upholds it over gRPC")
print(f"review: {complaint_id}", flush=True)
answer = sys.stdin.readline().strip()
if answer != "upheld":
    fail(f"the test answered {answer!r}")

step("look up my complaint")
driver.get(f"{BASE}/complaints?lang=en")
driver.find_element(By.ID, "complaint-id").send_keys(complaint_id)
submit("lookup")
state = driver.find_element(By.ID, "state")
if state.get_attribute("data-state") != "upheld" or state.text != "upheld":
    fail(f"complaint state after review {state.text!r}")
complaint_entry = driver.find_element(By.ID, "entry").text.lstrip("#")
steps = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#history tr.step")]
if len(steps) != 3 or "upheld" not in steps[-1]:
    fail(f"history {steps}")

step("the upheld complaint reserved the match")
find(en["text"], "en")
article = match_with_source(en["url"])
verdict = article.find_element(By.CSS_SELECTOR, "dd.work-verdict")
if verdict.get_attribute("data-verdict") != "reserved" or \
        f"registry entry #{complaint_entry}" not in verdict.text:
    fail(f"match verdict after the complaint {verdict.text!r}")
if not article.find_elements(By.CSS_SELECTOR, f'li.claim[data-id="{claim_id}"]'):
    fail("the claim is no longer listed")
driver.save_screenshot(config["screenshot"])

step("revoke the claim")
driver.get(f"{BASE}/claims?lang=en&content_id={content_id}")
check_labels()
driver.find_element(By.ID, f"claim-reason-{claim_id}").send_keys("The licence ended")
submit(f"revoke-claim-{claim_id}")
if driver.find_element(By.ID, "notice").text != f"Claim revoked: #{claim_id}":
    fail("revocation notice " + driver.find_element(By.TAG_NAME, "main").text[:300])
if driver.find_elements(By.CSS_SELECTOR, f'tr.claim[data-id="{claim_id}"]'):
    fail("a revoked claim is still listed")
driver.get(f"{BASE}/claims?lang=en&content_id={zh_content}")
if not driver.find_elements(By.CSS_SELECTOR, "tr.claim") or \
        driver.find_elements(By.CSS_SELECTOR, "button[id^=revoke-claim-]"):
    fail("another rightholder's claim is offered for revocation: " + driver.find_element(By.TAG_NAME, "main").text[:300])

step("a malformed complaint id and an unknown one")
driver.get(f"{BASE}/complaints/status?lang=en&id=x1")
error_page(400, "id: ")
driver.get(f"{BASE}/complaints/status?lang=en&id=999999")
error_page(404, "999999")

# 7. Chinese opt-out page labels, signed in.
step("Chinese opt-out page")
driver.get(f"{BASE}/optouts?lang=zh")
for selector, text in (("label[for=kind]", "范围类型"), ("#register", "登记"),
                       ("label[for=evidence]", "证明材料（作品必填）")):
    shown = driver.find_element(By.CSS_SELECTOR, selector).text
    if shown != text:
        fail(f"{selector}: {shown!r}, expected {text!r}")
check_labels()

step("Chinese complaint pages")
driver.get(f"{BASE}/complaints?lang=zh")
for selector, text in (("label[for=complaint-kind]", "投诉类型"), ("#file-complaint", "提交投诉"),
                       ("label[for=complaint-id]", "投诉编号"), ("#complaints", "投诉")):
    shown = driver.find_element(By.CSS_SELECTOR, selector).text
    if shown != text:
        fail(f"{selector}: {shown!r}, expected {text!r}")
check_labels()
driver.get(f"{BASE}/complaints/status?lang=zh&id={complaint_id}")
if driver.find_element(By.ID, "state").text != "投诉成立":
    fail("Chinese state " + driver.find_element(By.ID, "state").text)

driver.quit()
print("all steps passed", flush=True)
