// The page: styles, tools, painting requests and their progress stream.
"use strict";

const $ = (id) => document.getElementById(id);
const doodle = new Doodle($("canvas"));
const state = { styles: [], style: null, colour: null, tool: "brush", size: 5, job: null, source: null, editingMap: false };

function say(text, info) {
  const box = $("message");
  box.textContent = text;
  box.className = info ? "info" : "";
  box.hidden = !text;
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  if (!response.ok) {
    let text = `${response.status} ${response.statusText}`;
    try { const e = await response.json(); text = [e.error, e.hint].filter(Boolean).join(" "); } catch (_) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

function readFile(input) {
  const file = input.files[0];
  if (!file) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the image could not be read"));
    img.src = src;
  });
}

// --- styles ----------------------------------------------------------------------

function legendHtml(style) {
  return style.legend.map((l) => `<span><i style="background:${l.colour}"></i>${l.name}</span>`).join("");
}

function renderStyles() {
  const box = $("styles");
  box.innerHTML = "";
  for (const s of state.styles) {
    const card = document.createElement("button");
    card.className = "style-card" + (state.style && state.style.id === s.id ? " on" : "");
    card.dataset.id = s.id;
    card.innerHTML = `<div class="pair"><img src="/api/styles/${encodeURIComponent(s.id)}/image.png" alt="">` +
      `<img src="/api/styles/${encodeURIComponent(s.id)}/map.png" alt="its map"></div>` +
      `<b>${s.name}</b><div class="legend">${legendHtml(s)}</div>`;
    card.title = s.description;
    card.onclick = () => pick(s.id);
    box.appendChild(card);
  }
}

async function loadStyles(chosen) {
  const data = await (await api("/api/styles")).json();
  state.styles = data.styles;
  renderStyles();
  if (chosen || state.styles.length) await pick(chosen || state.styles[0].id);
}

async function pick(id) {
  const style = state.styles.find((s) => s.id === id);
  state.style = style;
  state.editingMap = false;
  state.photo = null;  // a photo's map was in the previous style's colours
  $("over-photo-box").hidden = true;
  renderStyles();
  $("style-name").textContent = `in ${style.name}'s colours`;
  doodle.palette = style.legend.map((l) => hexToRgb(l.colour));
  const pal = $("palette");
  pal.innerHTML = "";
  for (const l of style.legend) {
    const b = document.createElement("button");
    b.className = "swatch";
    b.dataset.colour = l.colour;
    b.innerHTML = `<i style="background:${l.colour}"></i>${l.name}`;
    b.onclick = () => chooseColour(l.colour);
    pal.appendChild(b);
  }
  chooseColour(style.legend[Math.min(1, style.legend.length - 1)].colour);
  const [w, h] = style.canvas;
  $("canvas-width").value = w;
  $("canvas-height").value = h;
  doodle.reset(w, h, hexToRgb(style.background));
  fitCanvas();
  $("from-sample").disabled = !style.sample;
  $("edit-map").hidden = !style.id.startsWith("upload-");
  $("save-map").hidden = true;
  if (style.sample) await fromSample();
  if (style.segmented) say(`No map came with ${style.name}: one was made from its colours (shown beside it). ` +
                           "Press “Edit the style's map” to correct it.", true);
}

function chooseColour(hex) {
  state.colour = hex;
  for (const b of document.querySelectorAll(".swatch")) b.classList.toggle("on", b.dataset.colour === hex);
  if (state.tool === "eraser") chooseTool(document.querySelector('[data-tool="brush"][data-size="5"]'));
}

// Shown as large as fits the column and the window's height (at least at its own size),
// drawn pixelated, so hard edges stay visibly hard.
function fitCanvas() {
  const box = $("canvas-box");
  const room = box.clientWidth || 640;
  const below = Math.max(200, window.innerHeight - box.getBoundingClientRect().top - 16);
  const scale = Math.max(1, Math.min(room / doodle.width, below / doodle.height));
  $("canvas").style.width = `${Math.floor(doodle.width * scale)}px`;
  $("canvas").style.height = `${Math.floor(doodle.height * scale)}px`;
}

// --- tools -----------------------------------------------------------------------

function chooseTool(button) {
  state.tool = button.dataset.tool;
  if (button.dataset.size) state.size = Number(button.dataset.size);
  for (const b of document.querySelectorAll("#tools [data-tool]")) b.classList.toggle("on", b === button);
}
for (const b of document.querySelectorAll("#tools [data-tool]")) b.onclick = () => chooseTool(b);

function colourNow() {
  return hexToRgb(state.tool === "eraser" ? state.style.background : state.colour);
}

function at(event) {
  const r = doodle.canvas.getBoundingClientRect();
  return [(event.clientX - r.left) * doodle.width / r.width, (event.clientY - r.top) * doodle.height / r.height];
}

let drag = null;
doodle.canvas.addEventListener("pointerdown", (e) => {
  if (!state.style || e.button !== 0) return;
  doodle.canvas.setPointerCapture(e.pointerId);
  const [x, y] = at(e), rgb = colourNow();
  doodle.remember();
  if (state.tool === "fill") {
    doodle.fill(x, y, rgb);
    doodle.put();
    return;
  }
  drag = { x, y, last: [x, y], base: doodle.snapshot(), rgb };
  if (state.tool === "brush" || state.tool === "eraser") {
    doodle.disc(x, y, state.size, rgb);
    doodle.put();
  }
});
doodle.canvas.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const [x, y] = at(e);
  if (state.tool === "brush" || state.tool === "eraser") {
    doodle.line(drag.last[0], drag.last[1], x, y, state.size, drag.rgb);
    drag.last = [x, y];
  } else {
    doodle.restore(drag.base);
    doodle[state.tool](drag.x, drag.y, x, y, drag.rgb);
  }
  doodle.put();
});
const endDrag = () => { drag = null; };
doodle.canvas.addEventListener("pointerup", endDrag);
doodle.canvas.addEventListener("pointercancel", endDrag);

$("undo").onclick = () => doodle.undo();
$("redo").onclick = () => doodle.redo();
$("clear").onclick = () => { doodle.remember(); doodle.fillAll(hexToRgb(state.style.background)); doodle.put(); };
document.addEventListener("keydown", (e) => {
  if (!(e.ctrlKey || e.metaKey)) return;
  if (e.key === "z") { e.preventDefault(); e.shiftKey ? doodle.redo() : doodle.undo(); }
  if (e.key === "y") { e.preventDefault(); doodle.redo(); }
});
window.addEventListener("resize", fitCanvas);

$("apply-size").onclick = () => {
  const w = Number($("canvas-width").value), h = Number($("canvas-height").value);
  if (!(w >= 16 && h >= 16 && w <= 2048 && h <= 2048)) { say("The canvas must be 16 to 2048 pixels a side."); return; }
  // The drawing is kept, scaled to the new size (nearest neighbour, so still hard-edged).
  const copy = document.createElement("canvas");
  copy.width = doodle.width;
  copy.height = doodle.height;
  copy.getContext("2d").putImageData(doodle.data, 0, 0);
  doodle.reset(w, h, hexToRgb(state.style.background));
  doodle.load(copy);
  fitCanvas();
};

async function fromSample() {
  const img = await loadImage(`/api/styles/${encodeURIComponent(state.style.id)}/sample.png`);
  doodle.load(img);
}
$("from-sample").onclick = () => fromSample().catch((e) => say(e.message));
$("from-map").onchange = async () => {
  try { doodle.load(await loadImage(await readFile($("from-map")))); say(""); } catch (e) { say(e.message); }
  $("from-map").value = "";
};
$("from-photo").onchange = async () => {
  try {
    say("Making the photo's map…", true);
    const photo = await readFile($("from-photo"));
    const response = await api("/api/photo-map", { style: state.style.id, photo });
    doodle.load(await loadImage(URL.createObjectURL(await response.blob())));
    state.photo = photo;  // painted over, unless unticked or another photo is chosen
    $("over-photo-box").hidden = false;
    say("");
  } catch (e) { say(e.message); }
  $("from-photo").value = "";
};

// An uploaded style's map, drawn over like a doodle, then sent back as its map.
$("edit-map").onclick = async () => {
  const s = state.style;
  doodle.reset(s.size[0], s.size[1], hexToRgb(s.background));
  fitCanvas();
  doodle.load(await loadImage(`/api/styles/${encodeURIComponent(s.id)}/map.png?${Date.now()}`));
  state.editingMap = true;
  $("save-map").hidden = false;
  say("Editing the style's map: draw, then “Save as the style's map”.", true);
};
$("save-map").onclick = async () => {
  try {
    const style = await (await api(`/api/styles/${encodeURIComponent(state.style.id)}/map`, { map: doodle.png() })).json();
    await loadStyles(style.id);
    say("The style's map was saved; draw your doodle.", true);
  } catch (e) { say(e.message); }
};

$("upload-send").onclick = async () => {
  try {
    const image = await readFile($("upload-image"));
    if (!image) { say("Choose a painting to upload."); return; }
    const map = await readFile($("upload-map"));
    say("Uploading…", true);
    const name = $("upload-image").files[0].name.replace(/\.[^.]*$/, "");
    const style = await (await api("/api/styles", { name, image, map })).json();
    await loadStyles(style.id);
    if (!style.segmented) say("");
  } catch (e) { say(e.message); }
};

// --- painting --------------------------------------------------------------------

function progressText(e) {
  if (e.event === "queued") return e.position ? `Waiting: ${e.position} painting(s) ahead of this one.` : "Starting…";
  if (e.event === "start") return `Painting ${e.size[0]}×${e.size[1]}, seed ${e.seed}: preparing…`;
  if (e.event === "phase") return `Phase ${e.phase}/${e.phases} at ${e.size[0]}×${e.size[1]}: compiling…`;
  if (e.event === "iteration") return `Phase ${e.phase}/${e.phases} at ${e.size[0]}×${e.size[1]}\n` +
    `iteration ${e.iteration}/${e.iterations} · loss ${e.loss.toPrecision(4)} · ${e.rate.toFixed(2)} s/it · this phase ends in ${e.eta}`;
  if (e.event === "quilted" || e.event === "skipped") return e.message;
  return null;
}

$("paint").onclick = async () => {
  if (!state.style) return;
  say("");
  try {
    const content = (await readFile($("content"))) ||
      (state.photo && $("over-photo").checked && !$("over-photo-box").hidden ? state.photo : null);
    const body = { style: state.style.id, doodle: doodle.png(), quality: $("quality").value,
                   width: $("out-width").value, height: $("out-height").value, seed: $("seed").value, content };
    const job = await (await api("/api/paint", body)).json();
    follow(job);
  } catch (e) { say(e.message); }
};

function follow(job) {
  if (state.source) state.source.close();
  state.job = job.job;
  $("paint").disabled = true;
  $("cancel").disabled = false;
  $("result").hidden = true;
  $("preview").hidden = true;
  $("notices").textContent = "";
  $("bar").firstElementChild.style.width = "0";
  const source = state.source = new EventSource(job.events);
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    const text = progressText(e);
    if (text) $("progress").textContent = text;
    if (e.iterations && e.event === "iteration") {
      const done = ((e.phase - 1) + e.iteration / e.iterations) / e.phases;
      $("bar").firstElementChild.style.width = `${Math.round(100 * done)}%`;
    }
    if (e.image) { $("preview").src = e.image; $("preview").hidden = false; }
    if (e.event === "notice") {
      const line = document.createElement("p");
      line.textContent = e.text;
      $("notices").appendChild(line);
    }
    if (["finished", "failed", "cancelled"].includes(e.event)) { source.close(); finish(job, e); }
  };
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) finish(job, { event: "failed", error: "the server went away." }); };
}

function finish(job, e) {
  $("paint").disabled = false;
  $("cancel").disabled = true;
  state.job = null;
  if (e.event === "failed") { say(`The painting failed: ${e.error}`); $("progress").textContent = ""; return; }
  if (e.event === "cancelled") { $("progress").textContent = "Cancelled."; return; }
  $("bar").firstElementChild.style.width = "100%";
  $("progress").textContent = `Done: ${e.name}.png`;
  $("preview").hidden = true;
  $("result-image").src = e.painting;
  $("result-link").href = e.painting;
  $("result").hidden = false;
  $("download-painting").href = e.painting;
  $("download-painting").download = `${e.name}.png`;
  $("download-doodle").href = e.doodle;
  $("download-doodle").download = `${e.name}_sem.png`;
  const link = document.createElement("a");
  link.href = e.painting;
  link.download = `${e.name}.png`;
  link.title = e.name;
  link.innerHTML = `<img src="${e.painting}" alt="${e.name}">`;
  $("strip").prepend(link);
}

$("cancel").onclick = async () => {
  if (state.job) await api(`/api/jobs/${state.job}/cancel`, {}).catch((e) => say(e.message));
};

loadStyles().catch((e) => say(e.message));
