// A doodle canvas with hard edges only: every tool writes exact palette colours into
// an ImageData buffer (no canvas paths, so no anti-aliasing), then puts it back.
"use strict";

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

class Doodle {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.ctx.imageSmoothingEnabled = false;
    this.undoStack = [];
    this.redoStack = [];
    this.palette = [[0, 0, 0]];
  }

  get width() { return this.canvas.width; }
  get height() { return this.canvas.height; }

  // A blank canvas of w x h in the colour rgb.
  reset(w, h, rgb) {
    this.canvas.width = w;
    this.canvas.height = h;
    this.ctx.imageSmoothingEnabled = false;
    this.data = this.ctx.createImageData(w, h);
    this.fillAll(rgb);
    this.undoStack = [];
    this.redoStack = [];
    this.put();
  }

  fillAll(rgb) {
    const d = this.data.data;
    for (let i = 0; i < d.length; i += 4) { d[i] = rgb[0]; d[i + 1] = rgb[1]; d[i + 2] = rgb[2]; d[i + 3] = 255; }
  }

  put() { this.ctx.putImageData(this.data, 0, 0); }

  // Undo keeps whole copies: a doodle is small (320x240 is 300 KB).
  remember() {
    this.undoStack.push(new Uint8ClampedArray(this.data.data));
    if (this.undoStack.length > 60) this.undoStack.shift();
    this.redoStack = [];
  }
  undo() { this._swap(this.undoStack, this.redoStack); }
  redo() { this._swap(this.redoStack, this.undoStack); }
  _swap(from, to) {
    if (!from.length) return;
    to.push(new Uint8ClampedArray(this.data.data));
    this.data.data.set(from.pop());
    this.put();
  }

  setPixel(x, y, rgb) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4, d = this.data.data;
    d[i] = rgb[0]; d[i + 1] = rgb[1]; d[i + 2] = rgb[2]; d[i + 3] = 255;
  }

  // Every pixel whose centre lies within r of (cx, cy), and always the one under it.
  disc(cx, cy, r, rgb) {
    const x0 = Math.floor(cx - r), x1 = Math.ceil(cx + r), y0 = Math.floor(cy - r), y1 = Math.ceil(cy + r);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r) this.setPixel(x, y, rgb);
      }
    }
    this.setPixel(Math.floor(cx), Math.floor(cy), rgb);
  }

  // Discs along the segment, close enough that the stroke has no gaps.
  line(ax, ay, bx, by, r, rgb) {
    const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / Math.max(0.5, r / 2)));
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      this.disc(ax + (bx - ax) * t, ay + (by - ay) * t, r, rgb);
    }
  }

  rect(ax, ay, bx, by, rgb) {
    const x0 = Math.floor(Math.min(ax, bx)), x1 = Math.floor(Math.max(ax, bx));
    const y0 = Math.floor(Math.min(ay, by)), y1 = Math.floor(Math.max(ay, by));
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) this.setPixel(x, y, rgb);
  }

  ellipse(ax, ay, bx, by, rgb) {
    const cx = (ax + bx) / 2, cy = (ay + by) / 2;
    const rx = Math.max(0.5, Math.abs(bx - ax) / 2), ry = Math.max(0.5, Math.abs(by - ay) / 2);
    for (let y = Math.floor(cy - ry); y <= Math.ceil(cy + ry); y++) {
      for (let x = Math.floor(cx - rx); x <= Math.ceil(cx + rx); x++) {
        const dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry;
        if (dx * dx + dy * dy <= 1) this.setPixel(x, y, rgb);
      }
    }
  }

  // Flood fill of the 4-connected region of (x, y)'s exact colour, scanline by scanline.
  fill(x, y, rgb) {
    x = Math.floor(x); y = Math.floor(y);
    const w = this.width, h = this.height, d = this.data.data;
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    const at = (i) => (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    const target = at((y * w + x) * 4), paint = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2];
    if (target === paint) return;
    const stack = [[x, y]];
    while (stack.length) {
      let [px, py] = stack.pop();
      while (px > 0 && at((py * w + px - 1) * 4) === target) px--;
      let up = false, down = false;
      for (; px < w && at((py * w + px) * 4) === target; px++) {
        this.setPixel(px, py, rgb);
        if (py > 0) {
          const t = at(((py - 1) * w + px) * 4) === target;
          if (t && !up) stack.push([px, py - 1]);
          up = t;
        }
        if (py < h - 1) {
          const t = at(((py + 1) * w + px) * 4) === target;
          if (t && !down) stack.push([px, py + 1]);
          down = t;
        }
      }
    }
  }

  // An image drawn into the canvas (resized by nearest neighbour), every pixel snapped
  // to the nearest palette colour: an uploaded map's soft edges become hard ones.
  load(image) {
    const tmp = document.createElement("canvas");
    tmp.width = this.width; tmp.height = this.height;
    const t = tmp.getContext("2d", { willReadFrequently: true });
    t.imageSmoothingEnabled = false;
    t.drawImage(image, 0, 0, this.width, this.height);
    const src = t.getImageData(0, 0, this.width, this.height).data, d = this.data.data;
    this.remember();
    for (let i = 0; i < d.length; i += 4) {
      let best = this.palette[0], bestD = Infinity;
      for (const c of this.palette) {
        const e = (src[i] - c[0]) ** 2 + (src[i + 1] - c[1]) ** 2 + (src[i + 2] - c[2]) ** 2;
        if (e < bestD) { bestD = e; best = c; }
      }
      d[i] = best[0]; d[i + 1] = best[1]; d[i + 2] = best[2]; d[i + 3] = 255;
    }
    this.put();
  }

  snapshot() { return new Uint8ClampedArray(this.data.data); }
  restore(copy) { this.data.data.set(copy); }
  png() { return this.canvas.toDataURL("image/png"); }
}
