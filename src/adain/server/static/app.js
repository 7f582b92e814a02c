// The live-preview page: plain JavaScript, no build step.
//
// While a control moves, low-resolution JPEG previews are requested one at a time (the latest
// state is sent when the previous preview returns); when the controls have been still for
// FULL_DELAY_MS, one full render at the chosen size replaces it (an older answer never replaces
// a newer one). The content is downscaled in the browser to the size asked for, so a preview
// uploads a small image, not the original photo. A full render shows a spinner over the result
// with the time so far and, once one render has been timed, a progress bar estimated from it.
// "Semantic (attention)" sends method=attention: it needs the styles' features, so it is on offer
// only while each style chosen is a bank style kept with its features (GET /v1/styles says so; sent
// by name) or an image uploaded from this page (kept in state.styleFiles and sent as the file: a
// bank style is otherwise statistics only), and no mask is painted (attention finds the regions itself).
// The live camera stays plain AdaIN whatever the toggle says (its hint says so meanwhile).
// The Quality / Fast toggle sends speed=quality (the served preset) or speed=fast (the networks
// distilled from it) with every render and every camera frame; GET /v1/info says whether this server
// offers fast, and why not: Fast is then disabled, its hint and tooltip saying why (checked again
// after a failed fast render: the server turns fast off when its weights fail to load).
// live.js (the camera) uses window.adainPage.
"use strict";

(() => {
  const FULL_DELAY_MS = 450;
  const MASK_MAX_SIDE = 1024;
  const DEFAULT_STYLE = "antimonocromatismo";
  const $ = (id) => document.getElementById(id);

  const state = {
    info: null,
    styles: [],
    content: null,       // {file, name, width, height, image, scaled: Map(key -> Blob)}
    a: null,             // bank style names
    b: null,
    styleFiles: new Map(), // bank style name -> the image uploaded for it from this page (attention sends it)
    slot: "a",
    maskDirty: false,
    seq: 0,
    shownSeq: 0,
    previewBusy: false,
    previewPending: false,
    fullTimer: null,
    fullController: null,
    resultUrl: null,
    live: false,         // live.js streams the camera: no photo renders meanwhile
    busy: null,          // {seq, started, estimate, timer} of the full render in flight
    secondsPerMegapixel: null,
  };

  // -- helpers ------------------------------------------------------------------------------------

  function setStatus(text) { $("status").textContent = text; }

  const showError = window.adainErrors.show;
  const errorText = window.adainErrors.text;

  function canvasBlob(canvas, type, quality) {
    return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
  }

  // A name fit for a file name: letters, digits, '.', '_' and '-'.
  function fileStem(name) {
    return name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "").slice(0, 60);
  }

  function downloadName() {
    const parts = [state.content ? state.content.name : "", state.a, state.b].filter(Boolean).map(fileStem);
    return `${parts.join("-") || "stylized"}.png`;
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

  // -- the spinner --------------------------------------------------------------------------------

  function expectedPixels(size) {
    const { width, height } = state.content;
    const scale = Math.min(1, size / Math.min(width, height));
    return width * height * scale * scale;
  }

  function startBusy(seq, size) {
    stopBusy();
    const estimate = state.secondsPerMegapixel === null ? null : state.secondsPerMegapixel * expectedPixels(size) / 1e6;
    const busy = { seq, size, started: performance.now(), estimate, timer: null };
    const tick = () => {
      const elapsed = (performance.now() - busy.started) / 1000;
      $("busy-text").textContent = `Rendering ${size} px… ${elapsed.toFixed(1)} s`;
      if (busy.estimate) $("busy-bar").style.width = `${Math.min(95, 100 * elapsed / busy.estimate).toFixed(1)}%`;
    };
    busy.timer = setInterval(tick, 100);
    state.busy = busy;
    $("busy").classList.toggle("indeterminate", !estimate);
    $("busy-bar").style.width = "0%";
    tick();
    $("busy").hidden = false;
    $("result-stage").setAttribute("aria-busy", "true");
  }

  function stopBusy(seq) {
    if (!state.busy || (seq !== undefined && state.busy.seq !== seq)) return;
    clearInterval(state.busy.timer);
    state.busy = null;
    $("busy").hidden = true;
    $("result-stage").setAttribute("aria-busy", "false");
  }

  // -- rendering ----------------------------------------------------------------------------------

  function sizeFor(kind) {
    const size = Number($("size").value);
    return kind === "preview" ? Math.min(size, state.info.preview_size) : size;
  }

  function maskActive() { return Boolean(state.b && state.maskDirty); }

  // Whether the bank kept this style's features (`adain bank add --features`): attention takes it by name.
  function hasFeatures(name) {
    const style = state.styles.find((s) => s.name === name);
    return Boolean(style && style.features);
  }

  // Why the attention toggle is off limits now ("" when it is not).
  function attentionBlocker() {
    if (!state.a) return "Pick a style first";
    for (const [slot, name] of [["A", state.a], ["B", state.b]]) {
      if (name && !hasFeatures(name) && !state.styleFiles.has(name)) {
        return `Needs an uploaded style image: style ${slot} ("${name}") is a bank style kept as statistics only. ` +
          `Upload one under "Upload a style"${slot === "B" ? ", or clear B" : ""}`;
      }
    }
    if (maskActive()) return "Attention matches the regions itself: clear the mask to use it";
    return "";
  }

  function attentionOn() { return $("attention").checked && !$("attention").disabled; }

  // Why this server does not offer Fast ("" when it does).
  function speedBlocker() {
    const fast = state.info && state.info.speeds && state.info.speeds.fast;
    if (!fast) return "this server does not say it offers a fast preset";
    return fast.available ? "" : fast.reason || "this server does not offer it";
  }

  function speed() { return $("speed-fast").checked && !$("speed-fast").disabled ? "fast" : "quality"; }

  function updateSpeed() {
    const fast = $("speed-fast");
    const blocker = speedBlocker();
    fast.disabled = Boolean(blocker);
    if (blocker && fast.checked) $("speed-quality").checked = true;
    const speeds = (state.info && state.info.speeds) || {};
    const preset = (name) => (speeds[name] && speeds[name].preset ? ` (preset ${speeds[name].preset})` : "");
    const title = blocker ? `Fast is unavailable: ${blocker}` :
      `Networks distilled from the quality ones${preset("fast")}: several times faster, a little less faithful; ` +
      "the live camera gains most";
    fast.title = title;
    $("speed-fast-label").title = title;
    $("speed-quality-label").title = `The full networks${preset("quality")}`;
    $("speed-hint").textContent = blocker ? `Fast is unavailable: ${blocker}` : "";
  }

  // GET /v1/info again: whether Fast is on offer may have changed (weights installed, or failed to load).
  async function refreshSpeeds() {
    try {
      const response = await fetch("/v1/info");
      if (response.ok) { state.info = await response.json(); updateSpeed(); }
    } catch (error) { /* the toggle stays as it was */ }
  }

  function updateAttention() {
    const toggle = $("attention");
    const blocker = attentionBlocker();
    toggle.disabled = Boolean(blocker);
    let hint = blocker;
    if (!blocker && state.live && toggle.checked) hint = "The live camera stays plain AdaIN: attention applies to photo renders";
    const title = hint || "Each region of the photo takes the style of the regions of the style image that look like it";
    toggle.title = title;
    $("attention-label").title = title;
    $("attention-hint").textContent = hint;
  }

  // `attention`: send method=attention, with the images of styles kept without features; `speed`: quality
  // or fast (both read before any await: the toggles may move meanwhile).
  async function buildForm(kind, attention, speed) {
    const form = new FormData();
    const size = sizeFor(kind);
    const content = await contentBlob(size, kind);
    const stem = fileStem(state.content.name) || "content";
    form.append("content", content, content === state.content.file ? content.name : `${stem}.${kind === "preview" ? "jpg" : "png"}`);
    const style = (field, name) => {
      if (attention && !hasFeatures(name)) form.append(`${field}_image`, state.styleFiles.get(name), state.styleFiles.get(name).name);
      else form.append(field, name);
    };
    if (attention) form.append("method", "attention");
    form.append("speed", speed);
    style("style", state.a);
    if (state.b) {
      style("style2", state.b);
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
    if (!state.content || !state.a || state.live) return;
    const seq = ++state.seq;
    let signal;
    const firstResult = !$("result").getAttribute("src");
    if (kind === "full") {
      state.previewPending = false;
      state.fullController = new AbortController();
      signal = state.fullController.signal;
    }
    if (kind === "full" || firstResult) startBusy(seq, sizeFor(kind));
    setStatus(kind === "preview" ? "Previewing…" : `Rendering ${sizeFor(kind)} px…`);
    const started = performance.now();
    const method = attentionOn() ? "attention" : "decoder";
    const chosenSpeed = speed();
    try {
      const body = await buildForm(kind, method === "attention", chosenSpeed);
      const response = await fetch("/v1/stylize", { method: "POST", body, signal });
      if (response.status === 503 && kind === "full") {
        const wait = Math.max(1, Number(response.headers.get("Retry-After")) || 1);
        setStatus(`Server busy: retrying in ${wait} s`);
        state.fullTimer = setTimeout(() => render("full"), wait * 1000);
        return;
      }
      if (!response.ok) {
        if (seq > state.shownSeq) { showError(await errorText(response)); setStatus("Failed"); }
        if (chosenSpeed === "fast") refreshSpeeds();
        return;
      }
      const blob = await response.blob();
      if (seq < state.shownSeq || state.live) return; // a newer answer is shown already
      state.shownSeq = seq;
      const seconds = Number(response.headers.get("X-Adain-Seconds")) || (performance.now() - started) / 1000;
      if (kind === "full") state.secondsPerMegapixel = seconds / (expectedPixels(sizeFor("full")) / 1e6);
      show(blob, kind, seq, seconds, method, chosenSpeed);
    } catch (error) {
      if (error.name !== "AbortError") showError(String(error));
    } finally {
      stopBusy(seq);
    }
  }

  function clearResult() {
    const result = $("result");
    result.removeAttribute("src");
    result.dataset.kind = "none";
    delete result.dataset.method;
    delete result.dataset.speed;
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = null;
    $("result-stage").classList.add("empty");
    const download = $("download");
    download.classList.add("disabled");
    download.setAttribute("aria-disabled", "true");
    download.href = "#";
  }

  // Shows an image in the result (`kind`: preview, full or live).
  function showImage(blob, kind, seq) {
    const url = URL.createObjectURL(blob);
    const result = $("result");
    const previous = state.resultUrl;
    result.onload = () => { if (previous) URL.revokeObjectURL(previous); };
    result.src = url;
    result.dataset.kind = kind;
    result.dataset.seq = String(seq);
    state.resultUrl = url;
    $("result-stage").classList.remove("empty");
    return url;
  }

  function show(blob, kind, seq, seconds, method, chosenSpeed) {
    const url = showImage(blob, kind, seq);
    $("result").dataset.method = method;
    $("result").dataset.speed = chosenSpeed;
    showError("");
    const how = `${chosenSpeed === "fast" ? ", fast" : ""}${method === "attention" ? ", attention" : ""}`;
    const took = `${how}${seconds ? ` in ${Number(seconds).toFixed(2)} s` : ""}`;
    const download = $("download");
    if (kind === "full") {
      download.href = url;
      download.download = downloadName();
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

  function stopRenders() {
    if (state.fullController) state.fullController.abort();
    state.fullController = null;
    clearTimeout(state.fullTimer);
    stopBusy();
  }

  // A control moved: the running full render is stale; preview now, render fully once still.
  function controlMoved() {
    if (state.live) return; // live.js reads the controls for each frame
    stopRenders();
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
    if (!state.content) return;
    const { width, height } = state.content;
    const scale = Math.min(1, MASK_MAX_SIDE / Math.max(width, height));
    const overlay = $("mask-overlay");
    for (const canvas of [mask.canvas, overlay]) {
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
    }
    const context = mask.canvas.getContext("2d");
    context.fillStyle = "#fff"; // white: style A everywhere
    context.fillRect(0, 0, mask.canvas.width, mask.canvas.height);
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    state.maskDirty = false;
    updateMix();
    placeOverlay();
  }

  // Decodes the file off the page first: a file the browser cannot read leaves the photo (and
  // its result) as they were, with an error; a good one replaces both.
  function loadContent(file) {
    showError("");
    if (!file) return;
    const input = $("content-file");
    if (!file.type.startsWith("image/")) {
      showError(`"${file.name}" is not an image file (PNG, JPEG, WebP…); the photo is unchanged`);
      input.value = "";
      return;
    }
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.onload = () => {
      const preview = $("content-preview");
      if (preview.dataset.url) URL.revokeObjectURL(preview.dataset.url);
      preview.src = url;
      preview.dataset.url = url;
      state.content = { file, name: file.name, width: probe.naturalWidth, height: probe.naturalHeight, image: probe, scaled: new Map() };
      $("content-stage").classList.remove("empty");
      $("content-info").textContent = `${probe.naturalWidth}×${probe.naturalHeight}`;
      state.shownSeq = ++state.seq; // answers for the previous photo are not shown any more
      stopRenders();
      clearResult();
      resetMask();
      controlMoved();
      window.dispatchEvent(new CustomEvent("adain:content"));
    };
    probe.onerror = () => {
      URL.revokeObjectURL(url);
      input.value = "";
      showError(`"${file.name}" is not an image this browser can read; the photo is unchanged`);
    };
    probe.src = url;
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

  // Painting needs no switch: a stroke on the photo paints the mask.
  function wireMask() {
    const overlay = $("mask-overlay");
    overlay.addEventListener("pointerdown", (event) => {
      if (!state.content || state.live || event.button !== 0) return;
      event.preventDefault();
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
      if (!state.b) {
        state.slot = "b";
        updateSlots();
        setStatus("Painted: now pick style B for the painted region");
        return;
      }
      controlMoved();
    };
    overlay.addEventListener("pointerup", finish);
    overlay.addEventListener("pointercancel", finish);
    $("clear-mask").addEventListener("click", () => {
      if (!state.content) return;
      resetMask();
      if (state.b) controlMoved();
    });
    $("content-preview").addEventListener("load", placeOverlay);
    window.addEventListener("resize", placeOverlay);
  }

  // -- styles -------------------------------------------------------------------------------------

  // The grid is built once per listing; searching hides tiles, choosing re-marks them.
  function buildStyleGrid() {
    const list = $("style-list");
    const items = state.styles.map((style) => {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.dataset.name = style.name;
      item.title = style.source ? `${style.name}\n${style.source}` : style.name;
      const swatch = document.createElement("img");
      swatch.loading = "lazy";
      swatch.decoding = "async";
      swatch.width = 96;
      swatch.height = 96;
      swatch.alt = "";
      if (style.preview) swatch.src = style.preview;
      const name = document.createElement("span");
      name.textContent = style.name;
      item.append(swatch, name);
      if (style.origin === "user") {
        const origin = document.createElement("small");
        origin.textContent = "yours";
        item.append(origin);
      }
      return item;
    });
    list.replaceChildren(...items);
    markStyles();
    filterStyles();
  }

  function filterStyles() {
    const query = $("style-search").value.trim().toLowerCase();
    let shown = 0;
    for (const item of $("style-list").children) {
      const visible = !query || item.dataset.name.toLowerCase().includes(query);
      item.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    $("style-count").textContent = query ? `${shown} of ${state.styles.length} styles` : `${state.styles.length} styles`;
  }

  function markStyles() {
    for (const item of $("style-list").children) {
      const name = item.dataset.name;
      item.className = name === state.a ? "a" : name === state.b ? "b" : "";
      item.setAttribute("aria-selected", String(name === state.a || name === state.b));
    }
  }

  function updateSlots() {
    for (const slot of ["a", "b"]) {
      $(`style-${slot}-name`).textContent = state[slot] || "none";
      const style = state.styles.find((s) => s.name === state[slot]);
      const swatch = $(`style-${slot}-swatch`);
      if (style && style.preview) swatch.src = style.preview;
      else swatch.removeAttribute("src");
    }
    for (const slot of ["a", "b"]) {
      const button = $(`slot-${slot}`);
      button.classList.toggle("active", state.slot === slot);
      button.setAttribute("aria-checked", String(state.slot === slot));
    }
    updateMix();
    markStyles();
  }

  // The controls that depend on the styles and the mask.
  function updateMix() {
    $("mix").disabled = !state.b || maskActive();
    updateAttention();
  }

  function assignStyle(name) {
    showError("");
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
    buildStyleGrid();
    updateSlots();
  }

  function suggestedName(fileName) {
    const stem = fileName.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");
    return (stem || "my-style").slice(0, 100);
  }

  async function uploadStyle() {
    showError("");
    const file = $("style-upload-file").files[0];
    if (!file) { showError("Choose a style image to upload"); return; }
    const name = $("style-upload-name").value.trim() || suggestedName(file.name);
    const form = new FormData();
    form.append("name", name);
    form.append("style_image", file, file.name);
    setStatus(`Adding ${name} to the bank…`);
    const response = await fetch("/v1/styles", { method: "POST", body: form });
    if (!response.ok) { showError(await errorText(response)); setStatus("Ready"); return; }
    state.styleFiles.set((await response.json()).name || name, file);
    await loadStyles();
    assignStyle(name);
    const tile = [...$("style-list").children].find((item) => item.dataset.name === name);
    if (tile) tile.scrollIntoView({ block: "nearest" });
  }

  function wireStyles() {
    $("style-search").addEventListener("input", filterStyles);
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
      slider.addEventListener("change", () => { if (!state.live) scheduleFull(FULL_DELAY_MS / 3); });
    }
    $("preserve-color").addEventListener("change", controlMoved);
    $("attention").addEventListener("change", () => { updateAttention(); controlMoved(); });
    for (const id of ["speed-quality", "speed-fast"]) $(id).addEventListener("change", controlMoved);
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

  // What live.js needs of the page.
  window.adainPage = {
    state,
    setStatus,
    showError,
    showImage,
    clearResult,
    stopRenders,
    updateAttention,
    speed,
    refreshSpeeds,
    // the photo's result again, when the camera stops
    resume() { if (state.content) { clearResult(); render("full"); } else { clearResult(); setStatus("Drop a photo to start"); } },
  };

  async function init() {
    const response = await fetch("/v1/info");
    state.info = await response.json();
    const size = $("size");
    size.max = String(state.info.limits.max_size);
    size.min = String(Math.min(64, state.info.limits.max_size));
    size.value = String(state.info.default_size);
    updateSpeed();
    wireControls();
    wireStyles();
    wireMask();
    await loadStyles();
    setStatus("Drop a photo to start");
    document.body.dataset.ready = "true";
  }

  init().catch((error) => showError(`The page could not start: ${error}`));
})();
