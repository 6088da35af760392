#!/usr/bin/env python3
"""The README's screenshots of ``doodle serve``, taken in headless chromium.

Starts ``python3 -m doodle serve`` (a fresh cache folder), picks meadow (its sample
doodle loads), draws a tree with the ellipse tool and a stream with the large brush,
paints at draft quality, and saves the four steps here as palette PNGs (< 200 KB):
1-pick.png, 2-draw.png, 3-progress.png, 4-result.png.

    python3 docs/serve/screenshots.py
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def save(driver, name: str) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(HERE / name, optimize=True)
    print(name, (HERE / name).stat().st_size // 1024, "KB")


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, DOODLE_CACHE=os.path.join(home, "cache"))
        server = subprocess.Popen([sys.executable, "-m", "doodle", "serve", "--port", "0", "--keep",
                                   os.path.join(home, "keep")], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1360,860",
                    "--force-device-scale-factor=1"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            url = server.stderr.readline().split("serving ")[1].split(" ")[0]
            driver.get(url)
            wait = WebDriverWait(driver, 30)
            wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, '.style-card[data-id="meadow"]'))).click()
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '.swatch[data-colour="#20a040"]')))
            driver.execute_script("return new Promise(r => setTimeout(r, 500))")
            save(driver, "1-pick.png")
            canvas = driver.find_element(By.ID, "canvas")
            scale = canvas.size["width"] / 320

            def offset(x: float, y: float) -> tuple[int, int]:
                return round(x * scale - canvas.size["width"] / 2), round(y * scale - canvas.size["height"] / 2)

            def drag(points) -> None:
                chain = ActionChains(driver).move_to_element_with_offset(canvas, *offset(*points[0])).click_and_hold()
                for p in points[1:]:
                    chain = chain.move_to_element_with_offset(canvas, *offset(*p))
                chain.release().perform()

            driver.find_element(By.CSS_SELECTOR, '.swatch[data-colour="#20a040"]').click()
            driver.find_element(By.CSS_SELECTOR, '[data-tool="ellipse"]').click()
            drag([(150, 70), (200, 130)])
            driver.find_element(By.CSS_SELECTOR, '.swatch[data-colour="#00e0d0"]').click()
            driver.find_element(By.CSS_SELECTOR, '[data-tool="brush"][data-size="10"]').click()
            drag([(300, 150), (270, 170), (250, 195), (262, 215), (250, 239)])
            save(driver, "2-draw.png")
            driver.find_element(By.CSS_SELECTOR, "#quality option[value='draft'], #quality option").click()
            driver.execute_script("document.getElementById('quality').value = 'draft'")
            driver.find_element(By.ID, "paint").click()
            WebDriverWait(driver, 900).until(
                lambda d: "iteration" in d.find_element(By.ID, "progress").text and
                d.find_element(By.ID, "preview").is_displayed() and
                int(d.find_element(By.ID, "progress").text.split("iteration ")[1].split("/")[0]) >= 10)
            save(driver, "3-progress.png")
            WebDriverWait(driver, 1800).until(ec.visibility_of_element_located((By.ID, "result-image")))
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            driver.execute_script("return new Promise(r => setTimeout(r, 500))")
            save(driver, "4-result.png")
        finally:
            driver.quit()
            server.send_signal(2)
            server.wait(30)


if __name__ == "__main__":
    main()
