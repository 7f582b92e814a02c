// The live-preview page: plain JavaScript, no build step.
//
// While a control moves, low-resolution JPEG previews are requested one at a time (the latest
// state is sent when the previous preview returns); when the controls have been still for
// FULL_DELAY_MS, one full render at the chosen size replaces it (an older answer never replaces
// a newer one). The content is downscaled in the browser to the size asked for, so a preview
// uploads a small image, not the original photo.
"use strict";

(() => {
  const FULL_DELAY_MS = 450;
  const MASK_MAX_SIDE = 1024;
  const DEFAULT_STYLE = "antimonocromatismo";
  const $ = (id) => document.getElementById(id);

  const state = {
    info: null,
    styles: [],
    content: null,       // {file, image, scaled: Map(key -> Blob)}
    a: null,             // bank style names
    b: null,
    slot: "a",
    maskDirty: false,
    seq: 0,
    shownSeq: 0,
    previewBusy: false,
    previewPending: false,
    fullTimer: null,
    fullController: null,
    resultUrl: null,
  };

  // -- helpers ------------------------------------------------------------------------------------

  function setStatus(text) { $("status").textContent = text; }

  const showError = window.adainErrors.show;
  const errorText = window.adainErrors.text;

  function canvasBlob(canvas, type, quality) {
    return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
  }

  // The content with its shorter side at most `side` pixels (the original file when smaller).
  async function contentBlob(side, kind) {
    const { image, file, scaled } = state.content;
    const shorter = Math.min(image.naturalWidth, image.naturalHeight);
    if (shorter <= side) return file;
    const key = `${kind}:${side}`;
    if (!scaled.has(key)) {
      const scale = side / shorter;
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
      const context = canvas.getContext("2d");
      context.imageSmoothingQuality = "high";
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      scaled.set(key, await (kind === "preview" ? canvasBlob(canvas, "image/jpeg", 0.9) : canvasBlob(canvas, "image/png")));
    }
    return scaled.get(key);
  }

  // -- rendering ----------------------------------------------------------------------------------

  function sizeFor(kind) {
    const size = Number($("size").value);
    return kind === "preview" ? Math.min(size, state.info.preview_size) : size;
  }

  function maskActive() { return Boolean(state.b && state.maskDirty); }

  async function buildForm(kind) {
    const form = new FormData();
    const size = sizeFor(kind);
    const content = await contentBlob(size, kind);
    form.append("content", content, content.name || (kind === "preview" ? "content.jpg" : "content.png"));
    form.append("style", state.a);
    if (state.b) {
      form.append("style2", state.b);
      if (maskActive()) form.append("mask", await canvasBlob(mask.canvas, "image/png"), "mask.png");
      else form.append("mix", $("mix").value);
    }
    form.append("alpha", $("alpha").value);
    form.append("size", String(size));
    form.append("preserve_color", $("preserve-color").checked ? "true" : "false");
    form.append("format", kind === "preview" ? "jpeg" : "png");
    return form;
  }

  async function render(kind) {
    if (!state.content || !state.a) return;
    const seq = ++state.seq;
    let signal;
    if (kind === "full") {
      state.previewPending = false;
      state.fullController = new AbortController();
      signal = state.fullController.signal;
    }
    setStatus(kind === "preview" ? "Previewing…" : `Rendering ${sizeFor(kind)} px…`);
    try {
      const response = await fetch("/v1/stylize", { method: "POST", body: await buildForm(kind), signal });
      if (response.status === 503 && kind === "full") {
        const wait = Math.max(1, Number(response.headers.get("Retry-After")) || 1);
        setStatus(`Server busy: retrying in ${wait} s`);
        state.fullTimer = setTimeout(() => render("full"), wait * 1000);
        return;
      }
      if (!response.ok) {
        if (seq > state.shownSeq) showError(await errorText(response));
        return;
      }
      const blob = await response.blob();
      if (seq < state.shownSeq) return; // a newer answer is shown already
      state.shownSeq = seq;
      show(blob, kind, seq, response.headers.get("X-Adain-Seconds"));
    } catch (error) {
      if (error.name !== "AbortError") showError(String(error));
    }
  }

  function show(blob, kind, seq, seconds) {
    const url = URL.createObjectURL(blob);
    const result = $("result");
    const previous = state.resultUrl;
    result.onload = () => { if (previous) URL.revokeObjectURL(previous); };
    result.src = url;
    result.dataset.kind = kind;
    result.dataset.seq = String(seq);
    state.resultUrl = url;
    showError("");
    const took = seconds ? ` in ${Number(seconds).toFixed(2)} s` : "";
    const download = $("download");
    if (kind === "full") {
      download.href = url;
      download.classList.remove("disabled");
      download.setAttribute("aria-disabled", "false");
      setStatus(`Full render, ${sizeFor("full")} px${took}`);
    } else {
      download.classList.add("disabled");
      download.setAttribute("aria-disabled", "true");
      setStatus(`Preview, ${sizeFor("preview")} px${took}`);
    }
  }

  function requestPreview() {
    if (state.previewBusy) { state.previewPending = true; return; }
    state.previewBusy = true;
    render("preview").finally(() => {
      state.previewBusy = false;
      if (state.previewPending) { state.previewPending = false; requestPreview(); }
    });
  }

  function scheduleFull(delay) {
    clearTimeout(state.fullTimer);
    state.fullTimer = setTimeout(() => render("full"), delay);
  }

  // A control moved: the running full render is stale; preview now, render fully once still.
  function controlMoved() {
    if (state.fullController) state.fullController.abort();
    state.fullController = null;
    clearTimeout(state.fullTimer);
    requestPreview();
    scheduleFull(FULL_DELAY_MS);
  }

  // -- content and mask ---------------------------------------------------------------------------

  const mask = { canvas: document.createElement("canvas"), painting: false, last: null };

  function placeOverlay() {
    const image = $("content-preview");
    const overlay = $("mask-overlay");
    overlay.style.left = `${image.offsetLeft}px`;
    overlay.style.top = `${image.offsetTop}px`;
    overlay.style.width = `${image.clientWidth}px`;
    overlay.style.height = `${image.clientHeight}px`;
  }

  function resetMask() {
    const image = $("content-preview");
    const scale = Math.min(1, MASK_MAX_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
    const overlay = $("mask-overlay");
    for (const canvas of [mask.canvas, overlay]) {
      canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
    }
    const context = mask.canvas.getContext("2d");
    context.fillStyle = "#fff"; // white: style A everywhere
    context.fillRect(0, 0, mask.canvas.width, mask.canvas.height);
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    state.maskDirty = false;
    updateMix();
    placeOverlay();
  }

  function loadContent(file) {
    if (!file || !file.type.startsWith("image/")) { showError("Choose an image file (PNG, JPEG, WebP…)"); return; }
    const url = URL.createObjectURL(file);
    const image = $("content-preview");
    image.onload = () => {
      state.content = { file, image, scaled: new Map() };
      $("content-stage").classList.remove("empty");
      $("content-info").textContent = `${image.naturalWidth}×${image.naturalHeight}`;
      resetMask();
      controlMoved();
    };
    image.onerror = () => showError("The browser cannot show this file as an image");
    image.src = url;
  }

  function strokeTo(event) {
    const overlay = $("mask-overlay");
    const factor = overlay.width / overlay.clientWidth;
    const point = [event.offsetX * factor, event.offsetY * factor];
    const from = mask.last || point;
    const width = Number($("brush").value) * factor;
    for (const [canvas, colour] of [[mask.canvas, "#000"], [overlay, "#ff5a28"]]) {
      const context = canvas.getContext("2d");
      context.strokeStyle = colour;
      context.lineWidth = width;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.beginPath();
      context.moveTo(from[0], from[1]);
      context.lineTo(point[0], point[1]);
      context.stroke();
    }
    mask.last = point;
  }

  function wireMask() {
    const overlay = $("mask-overlay");
    overlay.addEventListener("pointerdown", (event) => {
      if (!$("paint").checked) return;
      overlay.setPointerCapture(event.pointerId);
      mask.painting = true;
      mask.last = null;
      strokeTo(event);
    });
    overlay.addEventListener("pointermove", (event) => { if (mask.painting) strokeTo(event); });
    const finish = () => {
      if (!mask.painting) return;
      mask.painting = false;
      state.maskDirty = true;
      updateMix();
      if (!state.b) { showError("Choose style B (the B slot, then a style) for the painted region"); return; }
      controlMoved();
    };
    overlay.addEventListener("pointerup", finish);
    overlay.addEventListener("pointercancel", finish);
    $("paint").addEventListener("change", () => overlay.classList.toggle("painting", $("paint").checked));
    $("clear-mask").addEventListener("click", () => {
      if (!state.content) return;
      resetMask();
      if (state.b) controlMoved();
    });
    window.addEventListener("resize", placeOverlay);
  }

  // -- styles -------------------------------------------------------------------------------------

  function renderStyleList() {
    const query = $("style-search").value.trim().toLowerCase();
    const list = $("style-list");
    list.replaceChildren();
    let shown = 0;
    for (const style of state.styles) {
      if (query && !style.name.toLowerCase().includes(query)) continue;
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.dataset.name = style.name;
      item.className = style.name === state.a ? "a" : style.name === state.b ? "b" : "";
      item.setAttribute("aria-selected", String(style.name === state.a || style.name === state.b));
      const name = document.createElement("span");
      name.textContent = style.name;
      item.append(name);
      if (style.origin === "user") {
        const origin = document.createElement("small");
        origin.textContent = "yours";
        item.append(origin);
      }
      list.append(item);
      shown += 1;
    }
    $("style-count").textContent = query ? `${shown} of ${state.styles.length} styles` : `${state.styles.length} styles`;
  }

  function updateSlots() {
    $("style-a-name").textContent = state.a || "none";
    $("style-b-name").textContent = state.b || "none";
    for (const slot of ["a", "b"]) {
      const button = $(`slot-${slot}`);
      button.classList.toggle("active", state.slot === slot);
      button.setAttribute("aria-checked", String(state.slot === slot));
    }
    updateMix();
    renderStyleList();
  }

  function updateMix() {
    $("mix").disabled = !state.b || maskActive();
  }

  function assignStyle(name) {
    state[state.slot] = name;
    updateSlots();
    controlMoved();
  }

  async function loadStyles() {
    const response = await fetch("/v1/styles");
    if (!response.ok) { showError(await errorText(response)); return; }
    state.styles = await response.json();
    if (!state.a && state.styles.length) {
      state.a = (state.styles.find((s) => s.name === DEFAULT_STYLE) || state.styles[0]).name;
    }
    updateSlots();
  }

  function suggestedName(fileName) {
    const stem = fileName.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");
    return (stem || "my-style").slice(0, 100);
  }

  async function uploadStyle() {
    const file = $("style-upload-file").files[0];
    if (!file) { showError("Choose a style image to upload"); return; }
    const name = $("style-upload-name").value.trim() || suggestedName(file.name);
    const form = new FormData();
    form.append("name", name);
    form.append("style_image", file, file.name);
    setStatus(`Adding ${name} to the bank…`);
    const response = await fetch("/v1/styles", { method: "POST", body: form });
    if (!response.ok) { showError(await errorText(response)); setStatus("Ready"); return; }
    await loadStyles();
    assignStyle(name);
  }

  function wireStyles() {
    $("style-search").addEventListener("input", renderStyleList);
    $("style-list").addEventListener("click", (event) => {
      const item = event.target.closest("li");
      if (item) assignStyle(item.dataset.name);
    });
    $("slot-a").addEventListener("click", () => { state.slot = "a"; updateSlots(); });
    $("slot-b").addEventListener("click", () => { state.slot = "b"; updateSlots(); });
    $("clear-b").addEventListener("click", () => { state.b = null; state.slot = "a"; updateSlots(); controlMoved(); });
    $("style-upload-file").addEventListener("change", () => {
      const file = $("style-upload-file").files[0];
      if (file && !$("style-upload-name").value) $("style-upload-name").value = suggestedName(file.name);
    });
    $("style-upload").addEventListener("click", () => uploadStyle().catch((e) => showError(String(e))));
  }

  // -- controls -----------------------------------------------------------------------------------

  function wireControls() {
    const sliders = { alpha: (v) => Number(v).toFixed(2), size: (v) => v, mix: (v) => Number(v).toFixed(2), brush: (v) => v };
    for (const [id, format] of Object.entries(sliders)) {
      const slider = $(id);
      const update = () => { $(`${id}-value`).textContent = format(slider.value); };
      update();
      if (id === "brush") { slider.addEventListener("input", update); continue; }
      slider.addEventListener("input", () => { update(); controlMoved(); });
      slider.addEventListener("change", () => scheduleFull(FULL_DELAY_MS / 3));
    }
    $("preserve-color").addEventListener("change", controlMoved);
    const zone = $("drop-zone");
    $("content-file").addEventListener("change", () => loadContent($("content-file").files[0]));
    for (const target of [zone, $("content-stage")]) {
      target.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
      target.addEventListener("dragleave", () => zone.classList.remove("over"));
      target.addEventListener("drop", (event) => {
        event.preventDefault();
        zone.classList.remove("over");
        loadContent(event.dataTransfer.files[0]);
      });
    }
  }

  async function init() {
    const response = await fetch("/v1/info");
    state.info = await response.json();
    const size = $("size");
    size.max = String(state.info.limits.max_size);
    size.min = String(Math.min(64, state.info.limits.max_size));
    size.value = String(state.info.default_size);
    wireControls();
    wireStyles();
    wireMask();
    await loadStyles();
    setStatus("Drop a photo to start");
  }

  init().catch((error) => showError(`The page could not start: ${error}`));
})();
