"""Drives the market's web pages in headless Chromium, as four people
would: a publisher uploads a signed package, a security reviewer and a
quality reviewer approve it from the review queue, the published
package's page shows the install command, and a user rates it and reports
a security finding from that page; then anyone searches for it. Run again
with the phase "revenue" (after the user's calls were reported), the
publisher reads what the package earned on its dashboard.

Reads its settings as JSON on stdin: url, chromium, bundle, screenshots,
phase ("pipeline" unless given) and the tokens of the publisher, security,
quality and user accounts. Prints what it saw as JSON on stdout; any
failed expectation exits non-zero with the reason.
"""

import json
import re
import sys

from playwright.sync_api import expect, sync_playwright

# Chromium as root in a closed network: no sandbox, no background traffic.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main():
    cfg = json.load(sys.stdin)
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=cfg["chromium"], headless=True, args=FLAGS
        )

        def sign_in(token):
            context = browser.new_context()
            page = context.new_page()
            page.goto(cfg["url"] + "/login")
            page.fill("input[name=token]", token)
            page.click("form[action='/login'] button")
            return context, page

        if cfg.get("phase", "pipeline") == "revenue":
            revenue(cfg, sign_in, seen)
        else:
            pipeline(cfg, browser, sign_in, seen)
        browser.close()
    print(json.dumps(seen))


def revenue(cfg, sign_in, seen):
    """The publisher's dashboard: its balance, what each version earned,
    as a table and as a plot."""
    base = cfg["url"]
    context, page = sign_in(cfg["publisher"])
    page.wait_for_url(base + "/dashboard")
    seen["balance"] = int(page.text_content("#balance"))
    seen["revenue"] = page.text_content("#revenue")
    seen["earned"] = [int(cell) for cell in page.locator("#revenue td.earned").all_text_contents()]
    seen["earnings_plot"] = page.locator("svg[aria-label='earnings per version'] rect").count()
    page.screenshot(path=cfg["screenshots"] + "/revenue.png", full_page=True)
    context.close()


def pipeline(cfg, browser, sign_in, seen):
    """Submission, review, publication, rating, a finding and search."""
    base = cfg["url"]
    # A token the market does not know is refused on the page.
    context, page = sign_in("rct_forged")
    expect(page.locator("#error")).to_contain_text("not one the market knows")
    context.close()

    # The publisher uploads the package made by `publish pack`.
    context, page = sign_in(cfg["publisher"])
    page.wait_for_url(base + "/dashboard")
    expect(page.locator("#account")).to_have_text("acme")
    page.set_input_files("input[name=bundle]", cfg["bundle"])
    page.click("form[action='/submit'] button")
    page.wait_for_url(re.compile(r".*/submissions/\d+$"))
    submission = page.url.rsplit("/", 1)[1]
    expect(page.locator(".state")).to_have_text("in_review")
    seen["submission"] = int(submission)
    seen["score"] = int(page.text_content("#score"))
    seen["checks"] = page.locator("ul.checks li").count()
    page.goto(base + "/dashboard")
    expect(page.locator("#submissions")).to_contain_text("example.json_upper@1.0.0")
    page.screenshot(path=cfg["screenshots"] + "/dashboard.png", full_page=True)
    # A publisher is no reviewer.
    response = page.goto(base + "/queue")
    seen["publisher_queue_status"] = response.status
    context.close()

    def review(token, kind, note):
        context, page = sign_in(token)
        page.wait_for_url(base + "/dashboard")
        page.click("a[href='/queue']")
        page.click(f"#queue a[href='/submissions/{submission}']")
        page.select_option("select[name=kind]", kind)
        page.check("input[name=verdict][value=approve]")
        page.fill("textarea[name=note]", note)
        page.click("form[action$='/reviews'] button")
        page.wait_for_url(f"{base}/submissions/{submission}")
        state = page.text_content(".state")
        reviews = page.text_content("ul.reviews")
        return context, page, state, reviews

    context, page, state, reviews = review(cfg["security"], "security", "imports only log")
    seen["after_security"] = state
    if not re.search(r"security review by sec \(reputation -?\d+\): approve imports only log", reviews):
        sys.exit(f"the security review is not shown: {reviews}")
    # The same reviewer cannot give the same verdict twice.
    page.goto(f"{base}/submissions/{submission}")
    page.select_option("select[name=kind]", "security")
    page.check("input[name=verdict][value=approve]")
    page.click("form[action$='/reviews'] button")
    seen["second_security_review"] = page.text_content("#error")
    context.close()

    context, page, state, reviews = review(cfg["quality"], "quality", "examples hold")
    seen["after_quality"] = state
    page.click("text=The published package")
    page.wait_for_url(base + "/packages/example.json_upper")
    seen["versions_table"] = page.text_content("table")
    seen["plot"] = page.locator("svg[aria-label='security score per version'] rect").count()
    seen["install"] = page.text_content("#install")
    seen["compatibility"] = page.text_content("#compatibility")
    page.screenshot(path=cfg["screenshots"] + "/package.png", full_page=True)
    context.close()

    # A user rates it and reports a finding from its page.
    context, page = sign_in(cfg["user"])
    page.wait_for_url(base + "/dashboard")
    page.goto(base + "/packages/example.json_upper")
    page.select_option("select[name=stars]", "4")
    page.fill("form[action$='/ratings'] textarea[name=review]", "does what it says")
    page.click("form[action$='/ratings'] button")
    page.wait_for_url(base + "/packages/example.json_upper#use-1.0.0")
    seen["ratings"] = page.text_content("ul.ratings")
    page.select_option("#finding-form select[name=severity]", "medium")
    page.fill("#finding-form input[name=title]", "keeps secrets upper-cased")
    page.fill("#finding-form textarea[name=detail]", "call it with a token")
    page.click("#finding-form button")
    page.wait_for_selector("#reported")
    seen["finding"] = page.text_content("#reported")
    context.close()

    # Anyone sees it in the package list, signed in or not.
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/")
    seen["index"] = page.text_content("table")
    seen["categories"] = page.text_content("#categories")
    # The search box, as a user types into it.
    page.fill("#q", "capital letters in a json document")
    page.click("button:has-text('Search')")
    page.wait_for_selector("#packages")
    seen["search_url"] = page.url
    seen["search_results"] = page.text_content("#packages")
    page.screenshot(path=cfg["screenshots"] + "/search.png", full_page=True)
    context.close()


if __name__ == "__main__":
    main()
