// The A/B study page: a trial shows two stylizations of one pair; a click records the preference.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let trial = null;
  let answered = 0;
  let busy = false;

  const showError = window.adainErrors.show;
  const errorText = window.adainErrors.text;

  function loaded(image) {
    return new Promise((resolve, reject) => {
      image.onload = resolve;
      image.onerror = () => reject(new Error(`${image.alt} failed to load`));
    });
  }

  async function next() {
    busy = true;
    $("status").textContent = "Rendering the next pair…";
    const response = await fetch("/v1/study/trials", { method: "POST" });
    if (!response.ok) { showError(await errorText(response)); busy = false; return; }
    trial = await response.json();
    $("trial-info").textContent = `Content: ${trial.content} · style: ${trial.style}`;
    const images = ["left", "right"].map((side) => {
      const image = $(side);
      const done = loaded(image);
      image.src = trial.images[side];
      return done;
    });
    await Promise.all(images);
    $("status").textContent = `${answered} answered`;
    busy = false;
  }

  async function choose(winner) {
    if (busy || !trial) return;
    busy = true;
    const response = await fetch(`/v1/study/trials/${trial.id}/choice`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ winner }),
    });
    if (!response.ok) { showError(await errorText(response)); busy = false; return; }
    answered += 1;
    await next();
  }

  const run = (promise) => promise.catch((error) => { showError(String(error)); busy = false; });
  $("choose-left").addEventListener("click", () => run(choose("left")));
  $("choose-right").addEventListener("click", () => run(choose("right")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft" || event.key === "1") run(choose("left"));
    if (event.key === "ArrowRight" || event.key === "2") run(choose("right"));
  });
  run(next());
})();
