"""The web pages in a real browser: Debian's chromium, headless, driven by Selenium, against a real server.

A researcher signs in from the link of the upload receipt, publishes a model
from its page, finds it on the leaderboard, moves the Dynascore weights and
sorts by a column. A screenshot of each page is saved under the test's
temporary folder, and its path printed (``pytest -s`` shows them).
"""

import shutil

import pytest
from prerequisites import missing

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FAST = ({"accuracy": 0.71, "macro_f1": 0.69}, 1450.0, 310.0)
GOOD = ({"accuracy": 0.91, "macro_f1": 0.90}, 160.0, 1800.0)
MIDDLE = ({"accuracy": 0.84, "macro_f1": 0.82}, 520.0, 650.0)


@pytest.fixture
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium is not installed (pip install -e '.[test]')")
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        missing("chromium and chromium-driver are not installed (run .ci/setup)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-background-networking", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


class Screenshots:
    def __init__(self, driver, folder):
        self.driver, self.folder = driver, folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name, full_page=True):
        path = self.folder / f"{name}.png"
        if full_page:  # the whole page, not just the window
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(self.driver.get_window_size()["width"], max(height, 600))
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


def names_on_board(driver):
    from selenium.webdriver.common.by import By

    return [row.find_element(By.CSS_SELECTOR, "th a").text
            for row in driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")]


def test_sign_in_publish_find_it_on_the_leaderboard_reweigh_and_sort(board, browser, tmp_path):
    from selenium.webdriver.common.by import By

    shots = Screenshots(browser, tmp_path / "screenshots")
    board.add_dataset("anli-r1")
    board.add_dataset("anli-r2", weight=2)
    board.add_dataset("snli-dev", access="standard")
    alice = board.user("alice@example.org", password="correct horse battery")
    bob = board.user("bob@example.org")
    good = board.upload(alice, "roberta-large-nli", card={
        "description": "RoBERTa large fine-tuned on SNLI, MNLI, FEVER and ANLI.\n\nEvaluated as uploaded, "
                       "without test-time augmentation.",
        "paper_url": "https://arxiv.org/abs/1907.11692", "code_url": "https://example.org/roberta-nli",
        "license": "MIT"})
    fast = board.upload(bob, "distil-bow", card={"description": "A bag of words: quick, small, not clever.",
                                                 "anonymous": True})
    middle = board.upload(bob, "bilstm-esim")
    waiting = board.upload(bob, "t5-small-nli")
    board.evaluate(good["model_id"], {"anli-r1": GOOD, "anli-r2": GOOD, "snli-dev": GOOD})
    board.evaluate(fast["model_id"], {"anli-r1": FAST, "anli-r2": FAST, "snli-dev": FAST})
    board.evaluate(middle["model_id"], {"anli-r1": MIDDLE, "anli-r2": MIDDLE, "snli-dev": MIDDLE})
    board.evaluate(waiting["model_id"], {"anli-r1": MIDDLE, "anli-r2": None, "snli-dev": MIDDLE})
    for model in (fast, middle):
        assert board.put(bob, f"/models/{model['model_id']}/publish").status_code == 200
    board.evaluate(waiting["model_id"], {})
    with board.db.session() as session:  # published while evaluated, then a dataset re-run left it pending
        from dynalab.server.db.models import Upload
        session.get(Upload, waiting["model_id"]).published = True
        session.commit()

    # The receipt's link, in a browser: the model is not published, so its owner is asked to sign in.
    receipt_url = f"{board.server.url}/models/{good['model_id']}"
    browser.get(receipt_url)
    assert "No such model" in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.LINK_TEXT, "Sign in").click()
    browser.find_element(By.NAME, "email").send_keys("alice@example.org")
    browser.find_element(By.NAME, "password").send_keys("correct horse battery")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert browser.current_url == receipt_url  # back where the link pointed
    assert browser.find_element(By.TAG_NAME, "h1").text == "roberta-large-nli"
    assert "not published" in browser.find_element(By.CSS_SELECTOR, ".meta").text
    shots.take("model-page-owner")

    browser.find_element(By.ID, "publish").click()
    assert "Published: the model is on its task's leaderboard" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_element(By.ID, "unpublish")
    assert "Rank 1 of 3 on the Natural language inference leaderboard" in browser.find_element(
        By.CSS_SELECTOR, ".standing").text
    shots.take("model-page-published")

    browser.find_element(By.LINK_TEXT, "leaderboard").click()
    assert browser.current_url.startswith(f"{board.server.url}/tasks/nli")
    assert names_on_board(browser) == ["roberta-large-nli", "bilstm-esim", "distil-bow", "t5-small-nli"]
    waiting_row = browser.find_elements(By.CSS_SELECTOR, "#board tbody tr")[-1].text
    assert "pending" in waiting_row
    shots.take("leaderboard")
    assert browser.find_element(By.CSS_SELECTOR, "svg.plot")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot circle.front-point")) == 3  # all three trade off

    # Weight moved from accuracy to throughput: live, as the sliders move...
    accuracy = browser.find_element(By.ID, "w-accuracy")
    throughput = browser.find_element(By.ID, "w-examples_per_second")
    for field, value in ((accuracy, "0"), (throughput, "5")):
        field.clear()
        field.send_keys(value)
    assert names_on_board(browser)[:3] == ["distil-bow", "bilstm-esim", "roberta-large-nli"]
    assert "weights=accuracy%3A0" in browser.current_url or "weights=accuracy:0" in browser.current_url
    # ...and from the server, when the form is sent (as without JavaScript).
    browser.find_element(By.XPATH, "//button[text()='Apply weights']").click()
    assert "weights=" in browser.current_url
    assert names_on_board(browser) == ["distil-bow", "bilstm-esim", "roberta-large-nli", "t5-small-nli"]
    assert browser.find_element(By.ID, "w-examples_per_second").get_attribute("value") == "5"
    shots.take("leaderboard-reweighed")

    browser.find_element(By.CSS_SELECTOR, "a[data-sort='peak_memory_mb']").click()
    assert "sort=peak_memory_mb" in browser.current_url and "examples_per_second%3A5" in browser.current_url
    assert names_on_board(browser) == ["distil-bow", "bilstm-esim", "roberta-large-nli", "t5-small-nli"]
    header = browser.find_element(By.CSS_SELECTOR, "th[aria-sort]")
    assert header.get_attribute("aria-sort") == "ascending" and "Memory" in header.text
    browser.find_element(By.CSS_SELECTOR, "a[data-sort='peak_memory_mb']").click()  # again: the other way
    assert names_on_board(browser) == ["roberta-large-nli", "bilstm-esim", "distil-bow", "t5-small-nli"]
    browser.find_element(By.CSS_SELECTOR, "a[data-sort='model']").click()
    assert names_on_board(browser) == ["bilstm-esim", "distil-bow", "roberta-large-nli", "t5-small-nli"]
    shots.take("leaderboard-sorted-by-model")

    browser.find_element(By.LINK_TEXT, "distil-bow").click()
    assert "anonymous" in browser.find_element(By.CSS_SELECTOR, ".facts").text
    assert "Unpublish" not in browser.page_source  # not hers
    shots.take("model-page-public")

    browser.get(board.server.url + "/")
    assert "4 published models" in " ".join(browser.find_element(By.CSS_SELECTOR, "a[href='tasks/nli']")
                                           .find_element(By.XPATH, "../..").text.split())
    shots.take("tasks")

    browser.set_window_size(390, 900)  # a phone
    browser.get(f"{board.server.url}/tasks/nli")
    shots.take("leaderboard-phone")
    browser.get(receipt_url)
    shots.take("model-page-phone")


def test_editing_the_card_on_the_page_keeps_the_model_published(board, browser, tmp_path):
    from selenium.webdriver.common.by import By

    shots = Screenshots(browser, tmp_path / "screenshots")
    board.add_dataset("anli-r1")
    owner = board.user("carol@example.org", password="a long password")
    model = board.upload(owner, "card-model")
    board.evaluate(model["model_id"], {"anli-r1": MIDDLE})
    board.put(owner, f"/models/{model['model_id']}/publish")

    browser.get(f"{board.server.url}/generate_api_token?next=models/{model['model_id']}")
    browser.find_element(By.NAME, "email").send_keys("carol@example.org")
    browser.find_element(By.NAME, "password").send_keys("a long password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, "details.edit-card summary").click()
    browser.find_element(By.ID, "card-description").send_keys("An ESIM with pre-trained embeddings.")
    paper = browser.find_element(By.ID, "card-paper")
    paper.send_keys("https://arxiv.org/abs/1609.06038")
    browser.find_element(By.ID, "card-license").send_keys("Apache-2.0")
    browser.find_element(By.ID, "save-card").click()
    assert "The model card is saved." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert "An ESIM with pre-trained embeddings." in browser.find_element(By.CSS_SELECTOR, ".description").text
    assert "published" in browser.find_element(By.CSS_SELECTOR, ".meta").text
    assert [m["name"] for m in board.leaderboard()["models"]] == ["card-model"]  # still on the board
    shots.take("model-page-card-edited")

    # A bad link is refused with the field and the value; the rest of what was typed is kept.
    browser.find_element(By.CSS_SELECTOR, "details.edit-card summary").click()
    browser.execute_script("document.getElementById('card-code').type = 'text'")  # past the browser's own check
    browser.find_element(By.ID, "card-code").send_keys("github.com/me/esim")
    browser.find_element(By.ID, "save-card").click()
    error = browser.find_element(By.CSS_SELECTOR, ".error").text
    assert "code_url" in error and "github.com/me/esim" in error
    assert browser.find_element(By.ID, "card-code").get_attribute("value") == "github.com/me/esim"
    assert "github.com/me/esim" not in browser.find_element(By.CSS_SELECTOR, ".facts").text  # not saved
    shots.take("model-page-card-refused")
