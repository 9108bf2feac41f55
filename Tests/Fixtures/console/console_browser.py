#!/usr/bin/env python3
"""Drives the web console (/ui) in headless Chromium through Selenium, against a running
facerec-server, and checks what the page shows against what the server's APIs answer.

Run by ConsoleBrowserTests; by hand:
    python3 Tests/Fixtures/console/console_browser.py --url http://127.0.0.1:8080 \
        --key-id AKID --secret SECRET --artefacts /tmp/console --samples SampleData
Prints one `ok: ...` line per check; any failed check exits non-zero with its reason."""
import argparse
import base64
import csv
import hashlib
import hmac
import json
import pathlib
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ANCHOR_DISTANCE, ANCHOR_SIMILARITY = 1.1, 80.0


def similarity_for(distance):  # docs/REKOGNITION.md's mapping, as the page computes it
    d = min(max(distance, 0.0), 2.0)
    if d <= ANCHOR_DISTANCE:
        return 100 - (100 - ANCHOR_SIMILARITY) * d / ANCHOR_DISTANCE
    return ANCHOR_SIMILARITY * (2 - d) / (2 - ANCHOR_DISTANCE)


def ok(message):
    print("ok:", message, flush=True)


class Console:
    def __init__(self, args):
        self.args = args
        self.artefacts = pathlib.Path(args.artefacts)
        self.artefacts.mkdir(parents=True, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,1400"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
        self.wait = WebDriverWait(self.driver, args.timeout)

    def find(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def until(self, description, condition):
        try:
            return self.wait.until(lambda _: condition())
        except TimeoutException:
            error = self.driver.execute_script("const e = document.querySelector('main section:not([hidden]) .error:not([hidden])'); return e && e.textContent")
            self.shot("failed")
            raise AssertionError(f"timed out waiting for {description} (page error: {error!r})")

    def shot(self, name):
        path = self.artefacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def go(self, section):
        self.find(f"#nav-{section}").click()
        self.until(f"the {section} section", lambda: self.find(f"#{section}").is_displayed())

    def face_rows(self):
        return [{"name": row.get_attribute("data-name"), "box": [int(v) for v in row.get_attribute("data-box").split(",")],
                 "similarity": row.find_elements(By.TAG_NAME, "td")[2].text}
                for row in self.driver.find_elements(By.CSS_SELECTOR, "#rec-faces tbody tr")]

    def recognise(self, path, source=""):
        Select(self.find("#rec-source")).select_by_value(source)
        self.driver.execute_script("document.querySelector('#rec-status').textContent = ''; document.querySelector('#rec-error').hidden = true")
        self.find("#rec-file").send_keys(str(path))
        self.until(f"the result for {pathlib.Path(path).name}",
                   lambda: self.find("#rec-error").is_displayed() or "found in" in self.find("#rec-status").text)
        self.until("every face searched", lambda: "searching" not in self.find("#rec-faces").text)

    def slider(self, key):
        self.find("#rec-threshold").send_keys(key)  # the keyboard, as a person without a mouse would
        return int(self.find("#rec-threshold").get_attribute("value"))

    # MARK: API calls made by the test itself, to compare the page with

    def recognize_api(self, path):
        request = urllib.request.Request(self.args.url + "/v1/recognize", data=pathlib.Path(path).read_bytes(),
                                         headers={"Content-Type": "image/jpeg", "Authorization": "Bearer " + self.args.token}, method="POST")
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def rekognition(self):
        import boto3
        return boto3.client("rekognition", endpoint_url=self.args.url, region_name="us-east-1",
                            aws_access_key_id=self.args.key_id, aws_secret_access_key=self.args.secret)


def run(console, args):
    driver, samples = console.driver, pathlib.Path(args.samples).resolve()
    multiface = samples / "photos" / "multiface.jpg"
    labels = {}
    with open(samples / "face_images_100.csv") as f:
        for row in csv.DictReader(f):
            labels.setdefault(row["Results"], []).append(samples / "face_images_100" / f"{row['Image']}.jpg")
    emily, gerry = labels["Emily"][:3], labels["Gerry"][:3]

    # Access: the page is open to all, the APIs behind it are not; the page asks once for the
    # token and keys and keeps them for the tab.
    with urllib.request.urlopen(args.url + "/ui") as page:
        assert page.status == 200
    try:
        urllib.request.urlopen(urllib.request.Request(args.url + "/v1/recognize", data=multiface.read_bytes(), method="POST"))
        raise AssertionError("/v1/recognize answered without the token")
    except urllib.error.HTTPError as refusal:
        assert refusal.code == 401, refusal.code
    try:
        urllib.request.urlopen(urllib.request.Request(args.url + "/ui/import-gallery?CollectionId=x", data=b"x", method="POST"))
        raise AssertionError("/ui/import-gallery answered an unsigned request")
    except urllib.error.HTTPError as refusal:
        assert json.load(refusal)["__type"] == "MissingAuthenticationTokenException", refusal.code
    driver.get(args.url + "/ui")
    console.until("the request for credentials", lambda: console.find("#access").is_displayed())
    reason = console.find("#access-reason").text
    assert "bearer token" in reason, reason
    console.shot("access")
    console.find("#access-token").send_keys(args.token)
    console.find("#access-key").send_keys(args.key_id)
    console.find("#access-secret").send_keys(args.secret)
    console.find("#access-form button[type=submit]").click()
    console.until("the recognise section", lambda: console.find("#recognise").is_displayed())
    stored = driver.execute_script("return sessionStorage.getItem('facerec.console.access')")
    assert args.key_id in stored and driver.execute_script("return localStorage.length") == 0
    ok("asked for credentials once; kept in sessionStorage only")
    # Keyboard: Tab reaches the photo picker and the slider; every control has a label.
    reached = []
    driver.find_element(By.TAG_NAME, "body").click()
    for _ in range(12):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        reached.append(driver.switch_to.active_element.get_attribute("id"))
    assert "rec-file" in reached and "rec-threshold" in reached, reached
    unlabelled = driver.execute_script("""return [...document.querySelectorAll('input, select')]
        .filter((e) => !e.labels || e.labels.length === 0).map((e) => e.id)""")
    assert unlabelled == [], unlabelled
    ok("Tab reaches the photo picker and the slider; every input has a label")

    # People: the course data.pt uploaded as a collection.
    rek = console.rekognition()
    console.go("people")
    console.find("#import-file").send_keys(str(samples / "data.pt"))
    console.find("#import-form button").click()
    console.until("the import", lambda: "Imported" in console.find("#people-status").text)
    status = console.find("#people-status").text
    described = rek.describe_collection(CollectionId="course")
    assert f"Imported {described['FaceCount']} faces" in status and described["FaceCount"] == 90, (status, described)
    ok(f"data.pt imported through the page: {status!r}; DescribeCollection agrees")
    console.go("recognise")

    # Recognise against the server's gallery: the face and name POST /v1/recognize gives (the
    # course's rule: the most probable face of the photo).
    console.recognise(multiface)
    rows, expected = console.face_rows(), console.recognize_api(multiface)
    assert len(rows) == len(expected["faces"]) >= 1, (rows, expected)
    threshold = int(console.find("#rec-threshold").get_attribute("value"))
    for row, face in zip(rows, expected["faces"]):
        x1, y1, x2, y2 = face["box"]
        want = face["name"] if face["name"] != "Unknown" and similarity_for(face["distance"]) >= threshold else "Unknown"
        assert row["name"] == want, (row, face)
        assert all(abs(a - b) <= 1 for a, b in zip(row["box"], [x1, y1, x2 - x1, y2 - y1])), (row, face)
    ok(f"multiface.jpg against the gallery: {rows[0]['name']} at {rows[0]['box']}, as /v1/recognize answers")

    # Recognise in the imported course collection: every face DetectFaces finds, each searched.
    console.recognise(multiface, source="course")
    rows = console.face_rows()
    with open(multiface, "rb") as f:
        detected = rek.detect_faces(Image={"Bytes": f.read()})["FaceDetails"]
    assert len(rows) == len(detected) >= 4, (rows, len(detected))
    for row, face in zip(rows, detected):
        box = face["BoundingBox"]
        want = [box["Left"] * 1200, box["Top"] * 630, box["Width"] * 1200, box["Height"] * 630]
        assert all(abs(a - b) <= 1 for a, b in zip(row["box"], want)), (row, box)
    console.slider(Keys.HOME)
    users = {u["UserId"] for page in rek.get_paginator("list_users").paginate(CollectionId="course") for u in page["Users"]}
    names = [row["name"] for row in console.face_rows()]
    assert all(name in users for name in names), names
    console.shot("multiface")
    ok(f"multiface.jpg in the course collection: {len(rows)} faces where DetectFaces puts them, named {', '.join(names)}")
    if args.readme_shot:
        x, y, w, h = driver.execute_script("const r = document.querySelector('#recognise').getBoundingClientRect();"
                                           "return [r.x, r.y + window.scrollY, r.width, r.height]")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "jpeg", "quality": 70, "captureBeyondViewport": True,
                                                                 "clip": {"x": x, "y": y, "width": w, "height": h, "scale": 0.75}})
        pathlib.Path(args.readme_shot).write_bytes(base64.b64decode(shot["data"]))
        ok(f"README screenshot: {args.readme_shot} ({pathlib.Path(args.readme_shot).stat().st_size} bytes)")

    # A non-image is refused in words, by either path.
    note = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    note.write_text("not a photo\n")
    for source in ("course", ""):
        console.recognise(note, source=source)
        error = console.find("#rec-error").text
        assert console.find("#rec-error").is_displayed() and "not an image" in error, error
        ok(f"a text file ({'collection' if source else 'gallery'}): {error!r}")
    console.shot("not-an-image")

    # A format the server does not read (lossless WebP here, as HEIC would be in Safari): the page
    # redraws it as PNG, and the faces are those of the same pixels sent as PNG by the test.
    from PIL import Image
    pixels = Image.open(multiface).convert("RGB")
    webp, png = note.parent / "multiface.webp", note.parent / "multiface-pixels.png"
    pixels.save(webp, "WEBP", lossless=True)
    pixels.save(png)
    console.recognise(webp)
    status = console.find("#rec-status").text
    rows, expected = console.face_rows(), console.recognize_api(png)
    assert "sent as PNG" in status, status
    assert len(rows) == len(expected["faces"]) >= 1, (rows, expected)
    for row, face in zip(rows, expected["faces"]):
        x1, y1, x2, y2 = face["box"]
        assert all(abs(a - b) <= 1 for a, b in zip(row["box"], [x1, y1, x2 - x1, y2 - y1])), (row, face)
    ok(f"a WebP photo: {status!r}, faces where /v1/recognize puts them in the same pixels as PNG")

    # Signing without crypto.subtle (a plain-HTTP LAN address): the page's own SHA-256 and HMAC
    # equal Python's, and the server accepts a call signed with them.
    vectors = ["", "abc", "a" * 55, "a" * 56, "a" * 64, "é" * 40000]
    got = driver.execute_script("return arguments[0].map((m) => hex(portableSHA256(utf8.encode(m))))"
                                ".concat([hex(portableHMAC(utf8.encode('k'.repeat(100)), utf8.encode('msg'))), hex(portableHMAC(utf8.encode('key'), utf8.encode('')))])",
                                vectors)
    want = [hashlib.sha256(m.encode()).hexdigest() for m in vectors] + [
        hmac.new(b"k" * 100, b"msg", "sha256").hexdigest(), hmac.new(b"key", b"", "sha256").hexdigest()]
    assert got == want, (got, want)
    listed = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Object.defineProperty(window.crypto, 'subtle', { value: undefined, configurable: true });
        rekognition('ListCollections', {}).then((answer) => done(answer.CollectionIds), (error) => done('failed: ' + error.message))
          .finally(() => { delete window.crypto.subtle; });""")
    assert isinstance(listed, list) and "course" in listed, listed
    ok(f"signed without crypto.subtle: SHA-256 and HMAC equal Python's on {len(want)} inputs; ListCollections answered {listed}")

    # People: a collection, two people from three photos each; a group photo is refused.
    console.go("people")
    console.find("#collection-name").send_keys("staff")
    console.find("#collection-form button").click()
    console.until("the new collection", lambda: "People in staff" in console.find("#collection-title").text)
    assert "staff" in rek.list_collections()["CollectionIds"]

    def enrol(name, photos, refused=()):
        console.find("#enrol-name").clear()
        console.find("#enrol-name").send_keys(name)
        console.find("#enrol-files").send_keys("\n".join(str(p) for p in list(photos) + list(refused)))
        total = len(photos) + len(refused)
        console.until("each photo checked", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#enrol-previews li.accepted, #enrol-previews li.refused")) == total)
        refusals = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#enrol-previews li.refused")]
        assert len(refusals) == len(refused), refusals
        if refused:
            console.shot("enrol-previews")
        console.find("#enrol-submit").click()
        console.until(f"{name} listed", lambda: f"{name} · {len(photos)} faces" in console.find("#persons").text)
        return refusals

    refusals = enrol("Emily", emily, refused=[multiface])
    assert "faces" in refusals[0] and "alone" in refusals[0], refusals
    ok(f"the group photo is refused: {refusals[0]!r}")
    enrol("Gerry", gerry)
    faces = rek.list_faces(CollectionId="staff")["Faces"]
    assert sorted(f.get("UserId") for f in faces) == ["Emily"] * 3 + ["Gerry"] * 3, faces
    ok("Emily and Gerry enrolled from three photos each; ListFaces sees them at once")

    # Recognise in the collection: a fourth photo of Emily (her first one re-scaled and
    # re-encoded by the browser: with the tests' synthetic FaceNet weights only near copies are
    # reliably the same person).
    fourth = pathlib.Path(tempfile.mkdtemp()) / "emily-fourth.jpg"
    data = driver.execute_async_script("""
        const [bytes, done] = arguments;
        createImageBitmap(new Blob([Uint8Array.from(atob(bytes), c => c.charCodeAt(0))])).then((image) => {
            const canvas = document.createElement('canvas');
            canvas.width = image.width * 3; canvas.height = image.height * 3;
            canvas.getContext('2d').drawImage(image, 0, 0, canvas.width, canvas.height);
            done(canvas.toDataURL('image/jpeg', 0.9).split(',')[1]);
        });""", base64.b64encode(emily[0].read_bytes()).decode())
    fourth.write_bytes(base64.b64decode(data))
    console.go("recognise")
    console.slider(Keys.HOME)
    console.recognise(fourth, source="staff")
    rows = console.face_rows()
    assert len(rows) == 1 and rows[0]["name"] == "Emily", rows
    similarity = float(rows[0]["similarity"])
    console.shot("match")
    ok(f"the fourth photo is Emily (similarity {similarity})")
    # The threshold slider turns the match into Unknown, live, and back.
    value = console.slider(Keys.END)
    assert value == 100 and similarity < 100, (value, similarity)
    assert console.face_rows()[0]["name"] == "Unknown"
    console.shot("unknown")
    console.slider(Keys.HOME)
    assert console.face_rows()[0]["name"] == "Emily"
    ok("threshold 100 labels the match Unknown; back to 0 it is Emily again")

    # Rename, delete a face, delete a person; the API sees each change.
    console.go("people")
    person = console.find("li[data-person=Gerry]")
    person.find_element(By.XPATH, ".//button[text()='Rename']").click()
    console.find("#rename-input").clear()
    console.find("#rename-input").send_keys("Gerard", Keys.ENTER)
    console.until("the new name", lambda: "Gerard · 3 faces" in console.find("#persons").text)
    users = {u["UserId"] for u in rek.list_users(CollectionId="staff")["Users"]}
    assert users == {"Emily", "Gerard"}, users
    console.find("li[data-person=Gerard] .faces button").click()
    console.until("one face fewer", lambda: "Gerard · 2 faces" in console.find("#persons").text)
    assert len(rek.list_faces(CollectionId="staff", UserId="Gerard")["Faces"]) == 2
    driver.execute_script("window.confirm = () => true")
    console.find("li[data-person=Gerard]").find_element(By.XPATH, ".//button[text()='Delete person']").click()
    console.until("Gerard gone", lambda: "Gerard" not in console.find("#persons").text)
    assert {u["UserId"] for u in rek.list_users(CollectionId="staff")["Users"]} == {"Emily"}
    assert len(rek.list_faces(CollectionId="staff")["Faces"]) == 3
    console.shot("people")
    ok("renamed Gerry to Gerard, deleted one of his faces, then him; the API agrees each time")

    # Service: queue depths, workers and request counts from /metrics, refreshed by the page.
    console.go("service")
    console.until("the queue table", lambda: console.driver.find_elements(By.CSS_SELECTOR, "#svc-queues tr[data-queue=input]"))
    # The page redraws these tables every 5 seconds, so each is read in one script call (an
    # element found before a redraw is gone after it).
    def text_of(selector):
        return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)", selector)
    routes = "\n".join(text_of("#svc-routes"))
    assert "/v1/recognize" in routes, routes
    # Recent jobs: the gallery recognitions above (one photo, one text file) as the server lists them.
    console.until("recent jobs", lambda: text_of("#svc-recent tr[data-source=recognize]"))
    recent = [" ".join(row.split()) for row in text_of("#svc-recent tr[data-source=recognize]")]
    assert any(row.endswith(" ok") and re.search(r"\(\d+ faces?\)", row) for row in recent), recent
    assert any("error: " in row for row in recent), recent
    outcomes = "\n".join(text_of("#svc-jobs"))
    assert "recognised in process: ok" in outcomes and "recognised in process: error" in outcomes, outcomes
    console.shot("service")
    ok(f"service: queues, requests by route and {len(recent)} recent jobs shown")

    # 360 px wide: nothing scrolls sideways.
    driver.set_window_size(360, 900)
    console.go("recognise")
    console.recognise(multiface)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360, width
    console.shot("narrow-360")
    ok(f"at 360 px the page is {width} px wide")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--artefacts", required=True)
    parser.add_argument("--readme-shot")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    sys.stderr = sys.stdout  # one report, in order
    console = Console(args)
    try:
        run(console, args)
    except AssertionError as error:
        console.shot("failed")
        print("FAILED:", error, flush=True)
        sys.exit(1)
    finally:
        console.driver.quit()


if __name__ == "__main__":
    main()
