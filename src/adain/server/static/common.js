// Shared by the pages: the server's JSON errors ({"error", "detail"}) as one line of text.
"use strict";

window.adainErrors = {
  async text(response) {
    try {
      const body = await response.json();
      return `${response.status} ${body.error || ""}: ${body.detail || response.statusText}`;
    } catch (e) {
      return `${response.status} ${response.statusText}`;
    }
  },

  show(text) {
    const box = document.getElementById("error");
    box.textContent = text;
    box.hidden = !text;
  },
};
