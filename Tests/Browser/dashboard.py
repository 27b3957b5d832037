#!/usr/bin/env python3
"""Drives the dashboard in a real headless Chromium, as one person.

Started by the Swift test `DashboardBrowserTests` (which runs the server, the identity
provider and the history): it signs in through the provider's page, opens every page, checks
the console, the names, the small counts and the CSV download, runs axe-core in each page and
saves screenshots. Exits non-zero with one line per failure.

    dashboard.py --base http://127.0.0.1:PORT --role analyst|center --screenshots DIR --axe AXE.JS
"""
import argparse
import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

failures = []


def fail(message):
    failures.append(message)
    print("FAIL " + message, file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--role", choices=["analyst", "center"], required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--axe", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    axe_source = open(args.axe, encoding="utf-8").read()

    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1100", "--lang=sr"]:
        options.add_argument(flag)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    try:
        run(driver, args, axe_source)
    finally:
        driver.quit()
    if failures:
        sys.exit(1)
    print("ok: %s, every page" % args.role)


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def check_page(driver, args, name, axe_source):
    for entry in console_errors(driver):
        fail("%s: console error: %s" % (name, entry.get("message")))
    if driver.find_elements(By.CSS_SELECTOR, "p.message.error"):
        fail("%s: the page shows an error: %s" % (name, driver.find_element(By.CSS_SELECTOR, "p.message.error").text))
    # axe-core in the page: no serious or critical finding (WCAG 2.1 A and AA rules).
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})))))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', nodes: String(e)}])));"
    )
    for violation in json.loads(result):
        if violation["impact"] in ("serious", "critical"):
            fail("%s: accessibility: %s (%s, %s elements)" % (name, violation["id"], violation["impact"], violation["nodes"]))
    driver.save_screenshot(os.path.join(args.screenshots, "%s-%s.png" % (args.role, name)))


def run(driver, args, axe_source):
    base = args.base.rstrip("/")
    driver.get(base + "/dashboard?lang=sr-Latn")
    # Not signed in: the sign-in page, with the provider's button and no field for a token.
    if "/dashboard/sign-in" not in driver.current_url:
        fail("not sent to the sign-in page: " + driver.current_url)
    if driver.find_elements(By.CSS_SELECTOR, "input[type=password], input[name*=token]"):
        fail("the sign-in page asks for a password or token")
    check_page(driver, args, "sign-in", axe_source)
    driver.find_element(By.CSS_SELECTOR, "a.button").click()
    if not driver.current_url.startswith(base + "/dashboard?"):
        fail("after signing in, at " + driver.current_url)
    session = [c for c in driver.get_cookies() if "spona-session" in c["name"]]
    if not session or not session[0].get("httpOnly"):
        fail("no HttpOnly session cookie: %s" % driver.get_cookies())
    if driver.execute_script("return document.cookie").find("spona-session") >= 0:
        fail("the session cookie is readable by scripts")

    pages = [("overview", "/dashboard"), ("silent", "/dashboard/silent"), ("trainings", "/dashboard/trainings"),
             ("flows", "/dashboard/flows"), ("municipality", "/dashboard/municipalities/prokuplje"),
             ("breakdowns", "/dashboard/breakdowns?dimension=exploitation"), ("institutions", "/dashboard/institutions")]
    if args.role == "center":
        pages.append(("sectors", "/dashboard/sectors"))
    for name, path in pages:
        driver.get(base + path + "?lang=sr-Latn")
        check_page(driver, args, name, axe_source)

    # Breakdowns: for the analyst Blace's 2 reports by gender are "<5" there too.
    driver.get(base + "/dashboard/breakdowns?dimension=gender&lang=sr-Latn")
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table#breakdown-gender tbody tr")]
    blace = [row for row in rows if row.startswith("Blace")]
    if not blace:
        fail("the breakdown by gender has no row for Blace: %s" % rows)
    if args.role == "analyst" and ("<5" not in blace[0] or " 2" in blace[0].replace("<5", "")):
        fail("Blace's breakdown is not suppressed as the API's: %s" % rows)

    # Reports by institution: Blace's school's 2 reports are "<5" for the analyst, 2 for the Center.
    driver.get(base + "/dashboard/institutions?lang=sr-Latn")
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table#institutions tbody tr")]
    school = [row for row in rows if row.startswith("OŠ Blace")]
    if not school:
        fail("the institutions page has no row for OŠ Blace: %s" % rows)
    if args.role == "analyst" and ("<5" not in school[0] or school[0].endswith(" 2")):
        fail("OŠ Blace's reports are not suppressed as the API's: %s" % rows)
    if args.role == "center" and not school[0].endswith(" 2"):
        fail("the Center does not see OŠ Blace's 2 reports: %s" % rows)

    driver.get(base + "/dashboard?lang=sr-Latn")
    text = driver.find_element(By.TAG_NAME, "body").text
    if args.role == "analyst":
        # Only the analyst's district; Blace's 2 reports as "<5", never 2.
        for other in ["Nišavski", "Grad Beograd", "Pčinjski", "Srbija"]:
            if other in text:
                fail("the analyst's overview names %s" % other)
        rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table#places tbody tr")]
        blace = [row for row in rows if row.startswith("Blace")]
        if not blace or "<5" not in blace[0] or " 2" in blace[0].replace("<5", ""):
            fail("Blace's row is not suppressed as the API's: %s" % rows)
    else:
        if "Srbija" not in text or "Toplički upravni okrug" not in text:
            fail("the Center's overview lacks the nation or Toplica: " + text[:300])
        # The districts on a schematic map, each tile titled with its district and figure.
        heading = driver.find_element(By.ID, "district-map-heading")
        driver.execute_script("arguments[0].scrollIntoView()", heading)
        tiles = driver.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=district-map-heading] svg g title")
        if len(tiles) != 25:
            fail("the district map has %d tiles, not 25" % len(tiles))
        if not any("Toplički" in tile.get_attribute("textContent") for tile in tiles):
            fail("the district map has no tile for Toplica")
        driver.save_screenshot(os.path.join(args.screenshots, "%s-district-map.png" % args.role))

    # The script switch changes every name.
    driver.find_element(By.CSS_SELECTOR, "a[hreflang=sr-Cyrl]").click()
    cyrillic = driver.find_element(By.TAG_NAME, "body").text
    if "Топлички управни округ" not in cyrillic or "Toplički" in cyrillic or "Blace" in cyrillic:
        fail("Cyrillic page still has Latin names, or lacks Cyrillic ones")
    if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "sr-Cyrl":
        fail("the Cyrillic page is not marked lang=sr-Cyrl")
    check_page(driver, args, "overview-cyrillic", axe_source)
    driver.find_element(By.CSS_SELECTOR, "a[hreflang=en]").click()
    if "Reports by municipality and month" not in driver.find_element(By.TAG_NAME, "body").text:
        fail("the English page is not in English")

    # The CSV download, with the browser's own session (as its link does).
    link = driver.find_element(By.CSS_SELECTOR, "section a[href*='separator=semicolon']").get_attribute("href")
    request = urllib.request.Request(link, headers={"Cookie": "; ".join("%s=%s" % (c["name"], c["value"]) for c in driver.get_cookies())})
    with urllib.request.urlopen(request) as response:
        body = response.read()
        disposition = response.headers.get("Content-Disposition", "")
    if not body.startswith(b"\xef\xbb\xbf"):
        fail("the CSV has no byte order mark")
    lines = body[3:].decode("utf-8").split("\r\n")
    if ";" not in lines[0] or not lines[0].startswith("Month;"):
        fail("the CSV's header is not semicolon-separated English: %r" % lines[0])
    if "filename=" not in disposition:
        fail("the CSV has no file name")

    # Sign out: the session ends, and the pages want a sign-in again.
    driver.get(base + "/dashboard?lang=sr-Latn")
    driver.find_element(By.CSS_SELECTOR, "header form button[type=submit]").click()
    driver.get(base + "/dashboard")
    if "/dashboard/sign-in" not in driver.current_url:
        fail("still signed in after signing out")


if __name__ == "__main__":
    main()
