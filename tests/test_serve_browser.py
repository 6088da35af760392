"""``doodle serve`` in a real browser: Debian's chromium, headless, through
chromedriver and selenium. Pick a pack, draw two strokes and a fill with the mouse,
paint, and check that the doodle the server received is exactly what was drawn."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("starlette")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

import imageio.v3 as iio  # noqa: E402

from doodle.plan.options import Options  # noqa: E402
from tests.serving import running  # noqa: E402

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
OPTIONS = Options.of(phases=1, iterations=4, device="cpu")
W, H = 64, 48
WATER, TREES, GRASS, SKY = (0, 224, 208), (32, 160, 64), (192, 240, 64), (74, 168, 255)
RADIUS = 2  # the small brush


@pytest.fixture
def browser():
    for path, package in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not os.path.exists(path):
            pytest.skip(f"{path} is missing (apt-get install {package})")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1360,900", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _distance_to_segment(a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """(H, W) distance of each pixel's centre to the segment a-b (canvas pixels)."""
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    (ax, ay), (bx, by) = a, b
    t = np.clip(((xs - ax) * (bx - ax) + (ys - ay) * (by - ay)) / max((bx - ax) ** 2 + (by - ay) ** 2, 1e-9), 0, 1)
    return np.hypot(xs - (ax + t * (bx - ax)), ys - (ay + t * (by - ay)))


@pytest.mark.slow
def test_draw_and_paint_in_the_browser(browser, tmp_path, builtin_extractor):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from doodle.batch.cache import Shared

    shots = [tmp_path] + ([os.environ["DOODLE_SCREENSHOTS"]] if os.environ.get("DOODLE_SCREENSHOTS") else [])

    def shot(name: str) -> None:
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
        for folder in shots[1:]:
            shutil.copy(tmp_path / f"{name}.png", os.path.join(folder, f"{name}.png"))

    with running(OPTIONS, tmp_path / "keep", shared=Shared(builtin_extractor)) as (client, _):
        browser.get(f"http://127.0.0.1:{client.port}/")
        wait = WebDriverWait(browser, 30)
        card = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, '.style-card[data-id="meadow"]')))
        card.click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '.swatch[data-colour="#00e0d0"]')))
        shot("1-pick")
        for field, value in (("canvas-width", W), ("canvas-height", H)):
            box = browser.find_element(By.ID, field)
            box.clear()
            box.send_keys(str(value))
        browser.find_element(By.ID, "apply-size").click()  # the sample doodle, scaled down
        browser.find_element(By.ID, "clear").click()
        canvas = browser.find_element(By.ID, "canvas")
        scale = canvas.size["width"] / W
        assert scale >= 1 and canvas.size["height"] == pytest.approx(H * scale, abs=1)

        def offset(x: float, y: float) -> tuple[int, int]:
            """Canvas pixel (x, y) as an offset from the canvas element's centre."""
            return round(x * scale - canvas.size["width"] / 2), round(y * scale - canvas.size["height"] / 2)

        def at(x: float, y: float) -> tuple[float, float]:
            """Where the page reads a mouse sent to offset(x, y), in canvas pixels."""
            dx, dy = offset(x, y)
            return (dx + canvas.size["width"] / 2) / scale, (dy + canvas.size["height"] / 2) / scale

        def stroke(colour: str, points: list[tuple[float, float]]) -> None:
            browser.find_element(By.CSS_SELECTOR, f'.swatch[data-colour="{colour}"]').click()
            browser.find_element(By.CSS_SELECTOR, f'[data-tool="brush"][data-size="{RADIUS}"]').click()
            chain = ActionChains(browser).move_to_element_with_offset(canvas, *offset(*points[0])).click_and_hold()
            for p in points[1:]:
                chain = chain.move_to_element_with_offset(canvas, *offset(*p))
            chain.release().perform()

        line1 = [(8, 12), (24, 12), (40, 12), (56, 12)]
        line2 = [(32, 18), (32, 30), (32, 40)]
        stroke("#00e0d0", line1)
        stroke("#20a040", line2)
        browser.find_element(By.CSS_SELECTOR, '.swatch[data-colour="#c0f040"]').click()
        browser.find_element(By.CSS_SELECTOR, '[data-tool="fill"]').click()
        ActionChains(browser).move_to_element_with_offset(canvas, *offset(6, 40)).click().perform()
        shot("2-draw")
        drawn = np.array(browser.execute_script(
            "const c = document.getElementById('canvas');"
            "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);"),
            np.uint8).reshape(H, W, 4)[..., :3]

        browser.find_element(By.ID, "paint").click()
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "progress").text.strip())
        shot("3-progress")
        WebDriverWait(browser, 240).until(ec.visibility_of_element_located((By.ID, "result-image")))
        shot("4-result")
        assert "Done" in browser.find_element(By.ID, "progress").text
        doodle_url = browser.find_element(By.ID, "download-doodle").get_attribute("href")
        status, data, _ = client.request("GET", doodle_url.split(str(client.port), 1)[1])
        assert status == 200
        received = iio.imread(data)[..., :3]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#strip img")) == 1

    np.testing.assert_array_equal(received, drawn)  # the page sent its pixels unchanged
    colours = {tuple(c) for c in received.reshape(-1, 3)}
    assert colours == {WATER, TREES, GRASS}, colours  # legend colours only, hard edges; no sky left
    d1 = np.min([_distance_to_segment(at(*a), at(*b)) for a, b in zip(line1, line1[1:])], axis=0)
    d2 = np.min([_distance_to_segment(at(*a), at(*b)) for a, b in zip(line2, line2[1:])], axis=0)
    inside1, inside2 = d1 <= RADIUS - 0.75, d2 <= RADIUS - 0.75  # surely under the brush
    outside = (d1 > RADIUS + 0.75) & (d2 > RADIUS + 0.75)  # surely not
    assert (received[inside2] == TREES).all()  # drawn last, over the first stroke
    assert (received[inside1 & ~(d2 <= RADIUS + 0.75)] == WATER).all()
    assert (received[outside] == GRASS).all()
    assert inside1.sum() > 40 and inside2.sum() > 20 and outside.sum() > 0.8 * W * H


@pytest.mark.slow
def test_upload_a_painting_and_start_from_a_photo_s_map(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    bands = np.zeros((48, 64, 3), np.uint8)
    bands[:24] = (40, 90, 200)
    bands[24:] = (60, 160, 60)
    iio.imwrite(tmp_path / "bands.png", bands)
    with running(OPTIONS, tmp_path / "keep") as (client, _):
        browser.get(f"http://127.0.0.1:{client.port}/")
        wait = WebDriverWait(browser, 30)
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, '.style-card[data-id="meadow"]')))
        browser.find_element(By.CSS_SELECTOR, "#upload summary").click()
        browser.find_element(By.ID, "upload-image").send_keys(str(tmp_path / "bands.png"))
        browser.find_element(By.ID, "upload-send").click()
        card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '.style-card.on[data-id^="upload-"]')))
        assert "bands" in card.text
        assert "one was made from its colours" in browser.find_element(By.ID, "message").text
        legend = [b.get_attribute("data-colour") for b in browser.find_elements(By.CSS_SELECTOR, ".swatch")]
        assert len(legend) >= 2

        browser.find_element(By.CSS_SELECTOR, '.style-card[data-id="meadow"]').click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '.swatch[data-colour="#c0f040"]')))
        browser.find_element(By.ID, "from-photo").send_keys(str(tmp_path / "bands.png"))
        wait.until(ec.visibility_of_element_located((By.ID, "over-photo-box")))
        pixels = np.array(browser.execute_script(
            "const c = document.getElementById('canvas');"
            "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);"),
            np.uint8).reshape(240, 320, 4)[..., :3]
    assert tuple(pixels[10, 10]) == (74, 168, 255) and tuple(pixels[230, 10]) == (192, 240, 64)  # sky, grass
    assert {tuple(c) for c in pixels.reshape(-1, 3)} <= {(74, 168, 255), (192, 240, 64), (160, 80, 224),
                                                         (32, 160, 64), (0, 224, 208)}
