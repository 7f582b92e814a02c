// The live camera mode: frames from getUserMedia, stylized by the server, shown as they come.
//
// One frame is in flight at a time, and the frame sent is the camera's picture at the moment the
// previous answer came back: the frames the camera made meanwhile are never queued, only skipped
// (the server, for its part, drops a frame of a session that a newer one superseded: 204). Each
// frame is downscaled here to the live size (192 or 256 px, shorter side) and sent as JPEG with
// the style A, alpha, colour and speed (Quality / Fast) settings of the page at that moment (plain
// AdaIN: the attention toggle is for photo renders); the server smooths the content statistics
// across the session's frames (afresh when the speed changes). The rate shown is the answered
// frames of the last two seconds.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const page = window.adainPage;
  const RATE_WINDOW_MS = 2000;
  const JPEG_QUALITY = 0.85;

  const live = {
    running: false,
    run: 0, // which start() this is: a send loop of an earlier run stops when it sees a newer one
    abort: null, // cancels the run's frame in flight when it stops (a restart then has one in flight)
    session: null,
    stream: null,
    reset: true,
    sent: 0,
    received: 0,
    dropped: 0,
    fps: 0,
    times: [],
    lastArrival: 0,
    serverSeconds: 0,
    shownInput: null, // the frame (a canvas) whose stylization is shown
  };
  window.adainLive = live;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function liveSize() { return Number($("live-size").value); }

  function setButton(running) {
    const button = $("camera");
    button.textContent = running ? "Stop camera" : "Live camera";
    button.setAttribute("aria-pressed", String(running));
    button.classList.toggle("on", running);
  }

  async function openSession() {
    const response = await fetch("/v1/live", { method: "POST" });
    if (!response.ok) throw new Error(await window.adainErrors.text(response));
    live.session = await response.json();
    live.reset = true;
  }

  function grab(video, size) {
    const scale = size / Math.min(video.videoWidth, video.videoHeight);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
    canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  // frames/s over the last two seconds; slower than one frame in two seconds: from the last gap
  function countFrame(seconds, size, speed) {
    const now = performance.now();
    live.times.push(now);
    while (live.times.length && now - live.times[0] > RATE_WINDOW_MS) live.times.shift();
    const span = (live.times[live.times.length - 1] - live.times[0]) / 1000;
    if (live.times.length > 1 && span > 0) live.fps = (live.times.length - 1) / span;
    else live.fps = live.lastArrival ? 1000 / (now - live.lastArrival) : 0;
    live.lastArrival = now;
    live.serverSeconds = seconds;
    const rate = live.fps ? `${live.fps.toFixed(1)} frames/s` : "…";
    $("live-fps").textContent = rate;
    $("live-fps").dataset.fps = live.fps.toFixed(2);
    page.setStatus(`Live: ${rate} at ${size} px${speed === "fast" ? ", fast" : ""} (${seconds.toFixed(2)} s a frame on the server)`);
  }

  async function sendFrame(video, run) {
    const current = () => live.running && live.run === run;
    const state = page.state;
    const size = liveSize();
    const speed = page.speed();
    const canvas = grab(video, size);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
    const form = new FormData();
    form.append("frame", blob, "frame.jpg");
    form.append("style", state.a);
    form.append("alpha", $("alpha").value);
    form.append("size", String(size));
    form.append("preserve_color", $("preserve-color").checked ? "true" : "false");
    form.append("speed", speed);
    form.append("reset", live.reset ? "true" : "false");
    live.sent += 1;
    const response = await fetch(`/v1/live/${live.session.id}/frames`, {
      method: "POST", body: form, signal: live.abort.signal,
    });
    if (!current()) return; // stopped, or stopped and started again meanwhile: this answer is stale
    if (response.status === 204) { live.dropped += 1; return; }
    if (response.status === 404) { await openSession(); return; }
    if (response.status === 503) {
      await sleep(1000 * Math.min(1, Number(response.headers.get("Retry-After")) || 1));
      return;
    }
    if (!response.ok) {
      page.showError(await window.adainErrors.text(response));
      if (speed === "fast") page.refreshSpeeds();
      await stop();
      return;
    }
    live.reset = false;
    const result = await response.blob();
    if (!current()) return;
    live.received += 1;
    live.shownInput = canvas;
    page.showImage(result, "live", live.received);
    countFrame(Number(response.headers.get("X-Adain-Seconds")) || 0, size, speed);
  }

  async function loop(run) {
    const video = $("camera-video");
    while (live.running && live.run === run) {
      if (video.readyState < 2 || !video.videoWidth) { await sleep(30); continue; }
      try {
        await sendFrame(video, run);
      } catch (error) {
        if (!live.running || live.run !== run) break;
        page.showError(`Live camera: ${error}`);
        await sleep(500);
      }
    }
  }

  async function start() {
    page.showError("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      page.showError("This browser gives the page no camera (it needs http://localhost or https)");
      return;
    }
    try {
      live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      page.showError(`No camera: ${error.message || error.name}`);
      return;
    }
    try {
      await openSession();
    } catch (error) {
      live.stream.getTracks().forEach((track) => track.stop());
      page.showError(`Live camera: ${error.message}`);
      return;
    }
    const video = $("camera-video");
    video.srcObject = live.stream;
    page.stopRenders();
    page.state.live = true;
    page.updateAttention(); // the camera stays plain AdaIN: the toggle's hint says so
    document.body.classList.add("live");
    page.clearResult();
    live.run += 1;
    live.abort = new AbortController();
    Object.assign(live, {
      running: true, sent: 0, received: 0, dropped: 0, fps: 0, times: [], lastArrival: 0, shownInput: null,
    });
    setButton(true);
    page.setStatus("Live: starting the camera…");
    video.addEventListener("loadedmetadata", () => {
      $("content-info").textContent = `camera ${video.videoWidth}×${video.videoHeight}`;
    }, { once: true });
    video.play().catch(() => {});
    loop(live.run);
  }

  async function stop() {
    if (!live.running && !live.stream) return;
    live.running = false;
    if (live.abort) live.abort.abort();
    if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
    live.stream = null;
    $("camera-video").srcObject = null;
    if (live.session) {
      fetch(`/v1/live/${live.session.id}`, { method: "DELETE" }).catch(() => {});
      live.session = null;
    }
    document.body.classList.remove("live");
    page.state.live = false;
    page.updateAttention();
    setButton(false);
    $("live-fps").textContent = "";
    $("live-fps").dataset.fps = "0";
    const content = page.state.content;
    $("content-info").textContent = content ? `${content.width}×${content.height}` : "";
    page.resume();
  }

  // the sizes this server takes (its --max-size may be below 256)
  fetch("/v1/info").then((response) => response.json()).then((info) => {
    for (const option of $("live-size").options) option.disabled = Number(option.value) > info.live_max_size;
    if ($("live-size").selectedOptions[0].disabled) {
      const sizes = [...$("live-size").options].filter((option) => !option.disabled);
      if (sizes.length) $("live-size").value = sizes[sizes.length - 1].value;
      else $("camera").disabled = true;
    }
  }).catch(() => {});

  $("camera").addEventListener("click", () => (live.running ? stop() : start()).catch((e) => page.showError(String(e))));
  window.addEventListener("pagehide", () => { if (live.running) stop(); });
})();
