"""Drives headless Chromium (Debian's) with Playwright for the browser tests in
Tests/EndToEndTests: prints one JSON object with what the page showed. Exits non-zero with a
message when the page does not get there within the timeout.

  drive.py explore URL [DATASET ROW]   the explorer's plotted data; with DATASET and ROW, clicks
                                       that table cell and reports the drill-down list
  drive.py phone URL                   at a phone's width: the widest element beyond the screen
  drive.py save URL SLUG TITLE         the explorer's "Save as panel" into dashboard SLUG
  drive.py beta URL                    a product manager's round on /beta: enroll, change status,
                                       record a run, add feedback
  drive.py csp URL                     the page loaded, its Content-Security-Policy violations, and
                                       whether an inline script and an inline handler injected into
                                       it ran
"""
import json
import sys

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 20_000


def wait_until(page, expression, timeout=TIMEOUT_MS):
    """Polls `expression` in the page until it is truthy. (Playwright's wait_for_function
    compiles its predicate with eval, which the pages' Content-Security-Policy forbids.)"""
    waited = 0
    while not page.evaluate(f"() => Boolean({expression})"):
        if waited >= timeout:
            raise TimeoutError(f"waited {timeout} ms for {expression}")
        page.wait_for_timeout(50)
        waited += 50


def main():
    mode, url = sys.argv[1], sys.argv[2]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            if mode == "explore":
                print(json.dumps(explore(browser, url, sys.argv[3:])))
            elif mode == "phone":
                print(json.dumps(phone(browser, url)))
            elif mode == "beta":
                print(json.dumps(beta(browser, url)))
            elif mode == "csp":
                print(json.dumps(csp(browser, url)))
            elif mode == "save":
                print(json.dumps(save(browser, url, sys.argv[3], sys.argv[4])))
            else:
                sys.exit(f"unknown mode {mode}")
        finally:
            browser.close()


def explore(browser, url, click):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#result[data-state=ready], #result[data-state=error]", timeout=TIMEOUT_MS)
    out = {"state": page.get_attribute("#result", "data-state"),
           "title": page.text_content("#result-title"), "note": page.text_content("#result-note"),
           "url": page.url}
    data = page.query_selector("#result script.panel-data")
    out["plot"] = json.loads(data.text_content()) if data else None
    if click:
        dataset, row = int(click[0]), int(click[1])
        # Table rows are newest first; the first row is the header, the first cell the period.
        cell = page.query_selector_all("#result table tr")[1 + row].query_selector_all("td")[1 + dataset]
        out["clicked"] = cell.text_content()
        cell.click()
        page.wait_for_selector("#drill[data-state=ready], #drill[data-state=error]", timeout=TIMEOUT_MS)
        while page.is_visible("#drill-more"):
            before = page.get_attribute("#drill", "data-count")
            page.click("#drill-more")
            wait_until(page, f"document.querySelector('#drill').dataset.count !== '{before}' && document.querySelector('#drill').dataset.state !== 'loading'",
                                   timeout=TIMEOUT_MS)
        out["drill"] = {"state": page.get_attribute("#drill", "data-state"), "count": int(page.get_attribute("#drill", "data-count") or "-1"),
                        "title": page.text_content("#drill-title"),
                        "items": [li.text_content() for li in page.query_selector_all("#drill-list li")]}
        # Each installation opens its page.
        link = page.query_selector("#drill-list li a")
        if link:
            link.click()
            page.wait_for_selector("main[data-state=ready], main[data-state=error]", timeout=TIMEOUT_MS)
            data = page.query_selector("script.panel-data")
            out["installation"] = {"state": page.get_attribute("main", "data-state"), "title": page.text_content("#title"),
                                   "history": json.loads(data.text_content()) if data else None}
    return out


def beta(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("main[data-state=ready], main[data-state=viewer], main[data-state=error]", timeout=TIMEOUT_MS)
    out = {"state": page.get_attribute("main", "data-state")}
    if out["state"] != "ready":
        out["text"] = page.text_content("main")
        return out
    before = int(page.get_attribute("#table", "data-count") or "0")
    page.fill("#enroll [name=organization]", "Playwright Co")
    page.fill("#enroll [name=contact_name]", "Pat")
    page.fill("#enroll [name=contact_email]", "pat@playwright.example")
    page.select_option("#enroll [name=storage_driver]", "gcs")
    page.click("#enroll button")
    wait_until(page, f"document.querySelector('#table').dataset.count === '{before + 1}'", timeout=TIMEOUT_MS)
    out["enroll"] = page.text_content("#enroll-result")
    page.click("#table tr:has-text('Playwright Co')")
    page.wait_for_selector("#detail[data-state=ready]", timeout=TIMEOUT_MS)
    out["offered"] = [o.text_content() for o in page.query_selector_all("#status-select option")]
    page.select_option("#status-select", "enrolled")
    page.click("#status-form button")
    page.wait_for_selector("#detail[data-status=enrolled][data-state=ready]", timeout=TIMEOUT_MS)
    out["offered_after"] = [o.text_content() for o in page.query_selector_all("#status-select option")]
    page.select_option("#run-form [name=mode]", "three_step")
    page.fill("#run-form [name=started_at]", "2025-03-01T08:00")
    page.fill("#run-form [name=finished_at]", "2025-03-01T20:30")
    page.select_option("#run-form [name=outcome]", "succeeded")
    page.fill("#run-form [name=registry_size_bytes]", "600000000000")
    page.click("#run-form button")
    page.wait_for_selector("#detail[data-runs='1'][data-state=ready]", timeout=TIMEOUT_MS)
    out["runs"] = page.text_content("#runs")
    page.select_option("#feedback-form [name=category]", "import")
    page.select_option("#feedback-form [name=rating]", "5")
    page.fill("#feedback-form [name=text]", "smooth import")
    page.click("#feedback-form button")
    wait_until(page, "document.querySelector('#feedback').textContent.includes('smooth import')", timeout=TIMEOUT_MS)
    page.wait_for_selector("#detail[data-state=ready]", timeout=TIMEOUT_MS)
    out["feedback"] = page.text_content("#feedback")
    out["history"] = page.text_content("#history")
    out["table"] = page.text_content("#table")
    return out


def save(browser, url, slug, title):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#result[data-state=ready]", timeout=TIMEOUT_MS)
    page.click("#save summary")
    page.wait_for_selector(f"#save-dashboard option[value='{slug}']", state="attached", timeout=TIMEOUT_MS)
    page.select_option("#save-dashboard", slug)
    page.fill("#save-title", title)
    page.click("#save-button")
    page.wait_for_selector("#save[data-state]", timeout=TIMEOUT_MS)
    return {"state": page.get_attribute("#save", "data-state"), "message": page.text_content("#save-result")}


def csp(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script("""
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    """)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    loaded = page.evaluate("() => window.__violations.slice()")
    # As an injection would: a script element with inline code, and markup with an inline handler.
    page.evaluate("""() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.body.appendChild(s);
      const d = document.createElement('div');
      d.innerHTML = '<img src="/no-such-image" onerror="window.__handler = true">';
      document.body.appendChild(d);
    }""")
    page.wait_for_timeout(500)
    return {"loaded_violations": loaded, "errors": errors,
            "injected_ran": page.evaluate("() => window.__injected === true"),
            "handler_ran": page.evaluate("() => window.__handler === true"),
            "violations": page.evaluate("() => window.__violations.slice()"),
            "title": page.title()}


def phone(browser, url):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page.goto(url)
    wait_until(page, "document.body.dataset.rendered || document.querySelector('#result[data-state=ready]')", timeout=TIMEOUT_MS)
    wait_until(page, "![...document.querySelectorAll('[data-state=loading]')].length", timeout=TIMEOUT_MS)
    return page.evaluate("""() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('.panel, .card, canvas, header, form, select, input, label, table')]
        .map((e) => ({ id: e.id || e.className || e.tagName, right: Math.round(e.getBoundingClientRect().right) }))
        .filter((e) => e.right > width + 1);
      return { width, scrollWidth: document.documentElement.scrollWidth, wide, panels: document.querySelectorAll('.panel').length };
    }""")


if __name__ == "__main__":
    main()
